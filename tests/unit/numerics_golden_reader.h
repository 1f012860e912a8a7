// A small reader for the golden text v1 format of tests/data/golden (see README.md there).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qrules::testing {

struct GoldenCase {
  std::string name;
  // key -> one token list per occurrence (per-batch keys occur once per batch).
  std::map<std::string, std::vector<std::vector<std::string>>> keys;

  bool Has(const std::string& key) const { return keys.count(key) != 0; }
  size_t Count(const std::string& key) const;
  // The tokens of occurrence `i` of key (throws std::runtime_error when missing).
  const std::vector<std::string>& Tokens(const std::string& key, size_t i = 0) const;
  std::string Word(const std::string& key) const;
  int64_t Int(const std::string& key) const;
  // `<count> <hex bits>...` -> floats (count checked).
  std::vector<float> F32(const std::string& key, size_t i = 0) const;
  // `<count> <decimal>...`
  std::vector<int64_t> Ints(const std::string& key, size_t i = 0) const;
  // `<rank> <dim>...`
  std::vector<int64_t> Shape(const std::string& key) const;
  // `float_range`: two tokens, `none` or hex bits.
  std::pair<std::optional<float>, std::optional<float>> FloatRange() const;
};

// Parses a whole file; throws std::runtime_error with file:line on malformed input.
std::vector<GoldenCase> ReadGoldenFile(const std::string& path);

float FloatFromBits(uint32_t bits);
uint32_t BitsOf(float f);
// Equal bit patterns, or both NaN (payloads aside); else false with *where the first difference.
bool SameBitsOrBothNan(const std::vector<float>& a, const std::vector<float>& b, size_t* where);
// Equal bit patterns, NaN payloads included; else false with *where the first difference.
bool SameBits(const std::vector<float>& a, const std::vector<float>& b, size_t* where);
// Parses 8 hex digits.
float FloatFromHex(const std::string& hex);

}  // namespace qrules::testing
