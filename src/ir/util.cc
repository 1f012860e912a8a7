#include <array>
#include <cmath>
#include <fmt/format.h>

#include "ir/ir_internal.h"

namespace qrules::internal {

std::string_view DtypeName(ElementType t) { return ElementTypeName(t); }

namespace {
constexpr std::array<std::string_view, 17> kNames = {
    "float32", "int64",  "int32",  "int8",   "uint8",     "bool",       "float16", "bfloat16", "float64",
    "int16",   "uint16", "uint32", "uint64", "complex64", "complex128", "string",  "unknown"};
}  // namespace

std::span<const std::string_view> KnownDtypeNames() { return kNames; }

bool ParseDtypeName(std::string_view name, std::optional<ElementType>* type) {
  for (ElementType t : {ElementType::kFloat32, ElementType::kInt64, ElementType::kInt32, ElementType::kInt8,
                        ElementType::kUint8, ElementType::kBool}) {
    if (DtypeName(t) == name) {
      *type = t;
      return true;
    }
  }
  for (std::string_view n : kNames) {
    if (n == name) {
      *type = std::nullopt;
      return true;
    }
  }
  return false;
}

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  auto is_alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!is_alpha(s[0])) return false;
  for (char c : s) {
    if (!is_alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

std::string NameOrQuote(std::string_view s) {
  // Keywords that could be confused with a following clause are quoted too.
  static constexpr std::array<std::string_view, 11> kKeywords = {
      "module", "input", "state", "owner", "local", "output", "op", "in", "onnx", "weight_axes", "tensor"};
  for (auto k : kKeywords) {
    if (s == k) return Quote(s);
  }
  return IsIdentifier(s) ? std::string(s) : Quote(s);
}

std::string FormatFloat(float v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  return fmt::format("{}", v);
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    v = mant ? NAN : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  return sign ? -v : v;
}

bool IsModuleName(std::string_view fqn) {
  return fqn.empty() || (fqn.front() != '.' && fqn.back() != '.' && fqn.find("..") == std::string_view::npos);
}

}  // namespace qrules::internal
