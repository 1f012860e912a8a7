// Helpers shared by the test files.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace qrules::testing {

inline std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// Files under `dir` (recursively) with extension `ext`, sorted.
inline std::vector<std::filesystem::path> FilesWithExtension(const std::filesystem::path& dir,
                                                             const std::string& ext) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ext) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Runs the test with the repository root as the working directory, so that file names in
// diagnostics are the stable repository-relative paths.
struct InSourceDir {
  std::filesystem::path saved = std::filesystem::current_path();
  InSourceDir() { std::filesystem::current_path(QRULES_SOURCE_DIR); }
  ~InSourceDir() { std::filesystem::current_path(saved); }
};

}  // namespace qrules::testing
