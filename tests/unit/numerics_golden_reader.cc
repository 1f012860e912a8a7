#include "unit/numerics_golden_reader.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace qrules::testing {

float FloatFromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint32_t BitsOf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

bool SameBitsOrBothNan(const std::vector<float>& a, const std::vector<float>& b, size_t* where) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (BitsOf(a[i]) != BitsOf(b[i]) && !(std::isnan(a[i]) && std::isnan(b[i]))) {
      *where = i;
      return false;
    }
  }
  return true;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b, size_t* where) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (BitsOf(a[i]) != BitsOf(b[i])) {
      *where = i;
      return false;
    }
  }
  return true;
}

float FloatFromHex(const std::string& hex) {
  if (hex.size() != 8) throw std::runtime_error("bad f32 token '" + hex + "'");
  char* end = nullptr;
  const unsigned long v = std::strtoul(hex.c_str(), &end, 16);
  if (*end != '\0') throw std::runtime_error("bad f32 token '" + hex + "'");
  return FloatFromBits(static_cast<uint32_t>(v));
}

size_t GoldenCase::Count(const std::string& key) const {
  auto it = keys.find(key);
  return it == keys.end() ? 0 : it->second.size();
}

const std::vector<std::string>& GoldenCase::Tokens(const std::string& key, size_t i) const {
  auto it = keys.find(key);
  if (it == keys.end() || i >= it->second.size()) {
    throw std::runtime_error(name + ": missing key '" + key + "'");
  }
  return it->second[i];
}

std::string GoldenCase::Word(const std::string& key) const {
  const auto& t = Tokens(key);
  if (t.size() != 1) throw std::runtime_error(name + ": key '" + key + "' is not one word");
  return t[0];
}

int64_t GoldenCase::Int(const std::string& key) const { return std::stoll(Word(key)); }

std::vector<float> GoldenCase::F32(const std::string& key, size_t i) const {
  const auto& t = Tokens(key, i);
  if (t.empty() || std::stoul(t[0]) != t.size() - 1) {
    throw std::runtime_error(name + ": bad count for '" + key + "'");
  }
  std::vector<float> out;
  out.reserve(t.size() - 1);
  for (size_t k = 1; k < t.size(); ++k) out.push_back(FloatFromHex(t[k]));
  return out;
}

std::vector<int64_t> GoldenCase::Ints(const std::string& key, size_t i) const {
  const auto& t = Tokens(key, i);
  if (t.empty() || std::stoul(t[0]) != t.size() - 1) {
    throw std::runtime_error(name + ": bad count for '" + key + "'");
  }
  std::vector<int64_t> out;
  for (size_t k = 1; k < t.size(); ++k) out.push_back(std::stoll(t[k]));
  return out;
}

std::vector<int64_t> GoldenCase::Shape(const std::string& key) const { return Ints(key); }

std::pair<std::optional<float>, std::optional<float>> GoldenCase::FloatRange() const {
  if (!Has("float_range")) return {};
  const auto& t = Tokens("float_range");
  if (t.size() != 2) throw std::runtime_error(name + ": float_range needs two tokens");
  auto one = [](const std::string& s) -> std::optional<float> {
    if (s == "none") return std::nullopt;
    return FloatFromHex(s);
  };
  return {one(t[0]), one(t[1])};
}

std::vector<GoldenCase> ReadGoldenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<GoldenCase> cases;
  std::string line;
  int line_no = 0;
  bool in_case = false;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(path + ":" + std::to_string(line_no) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> tokens;
    std::istringstream ss(line);
    for (std::string tok; ss >> tok;) tokens.push_back(tok);
    if (tokens.empty()) continue;
    if (tokens[0] == "case") {
      if (in_case || tokens.size() != 2) fail("unexpected 'case'");
      cases.push_back({tokens[1], {}});
      in_case = true;
    } else if (tokens[0] == "end") {
      if (!in_case) fail("'end' outside a case");
      in_case = false;
    } else {
      if (!in_case) fail("key outside a case");
      const std::string key = tokens[0];
      tokens.erase(tokens.begin());
      cases.back().keys[key].push_back(std::move(tokens));
    }
  }
  if (in_case) fail("missing 'end'");
  return cases;
}

}  // namespace qrules::testing
