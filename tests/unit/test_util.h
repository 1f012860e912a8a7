// Helpers shared by the test files.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
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

// Checks `actual` against the hand-written expected file.  QRULES_UPDATE_GOLDEN=1 rewrites the
// file instead (to review a deliberate change with git diff) and fails the check, so that a run
// with the variable set never passes.
inline void CheckGolden(const std::filesystem::path& expected, const std::string& actual) {
  if (std::getenv("QRULES_UPDATE_GOLDEN") != nullptr) {
    WriteText(expected, actual);
    FAIL_CHECK("QRULES_UPDATE_GOLDEN is set: rewrote " << expected.string()
               << "; review it with git diff, then rerun without the variable");
    return;
  }
  INFO("golden file: " << expected.string() << "\nactual output:\n" << actual);
  REQUIRE(std::filesystem::exists(expected));
  CHECK(actual == ReadText(expected));
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
