// The numerics-related free functions declared in qrules/config.h: names, parsing, ranges of the
// quantized dtypes (grammar/SEMANTICS.md §c.1, §c.2, §c.9).
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "qrules/config.h"

namespace qrules {
namespace {

template <typename E, size_t N>
std::optional<E> Lookup(const std::array<std::pair<std::string_view, E>, N>& table,
                        std::string_view name) {
  for (const auto& [n, e] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

template <typename E, size_t N>
std::string_view NameOf(const std::array<std::pair<std::string_view, E>, N>& table, E value) {
  for (const auto& [n, e] : table) {
    if (e == value) return n;
  }
  return "?";
}

constexpr std::array<std::pair<std::string_view, Dtype>, 9> kDtypes = {{
    {"int8", Dtype::kInt8},
    {"int4", Dtype::kInt4},
    {"int2", Dtype::kInt2},
    {"uint8", Dtype::kUint8},
    {"uint4", Dtype::kUint4},
    {"uint2", Dtype::kUint2},
    {"float8_e4m3fn", Dtype::kFloat8E4m3fn},
    {"float8_e5m2", Dtype::kFloat8E5m2},
    {"float4_e2m1fn_x2", Dtype::kFloat4E2m1fnX2},
}};
constexpr std::array<std::pair<std::string_view, QScheme>, 3> kQSchemes = {{
    {"symmetric", QScheme::kSymmetric},
    {"symmetric_with_clipping", QScheme::kSymmetricWithClipping},
    {"asymmetric", QScheme::kAsymmetric},
}};
constexpr std::array<std::pair<std::string_view, QFormulation>, 2> kQFormulations = {{
    {"zp", QFormulation::kZp},
    {"minval", QFormulation::kMinval},
}};
constexpr std::array<std::pair<std::string_view, GranularityKind>, 3> kGranularities = {{
    {"per_tensor", GranularityKind::kPerTensor},
    {"per_channel", GranularityKind::kPerChannel},
    {"per_block", GranularityKind::kPerBlock},
}};
constexpr std::array<std::pair<std::string_view, QParamsKind>, 4> kQParams = {{
    {"default", QParamsKind::kDefault},
    {"static", QParamsKind::kStatic},
    {"moving_average", QParamsKind::kMovingAverage},
    {"global_minmax", QParamsKind::kGlobalMinmax},
}};
constexpr std::array<std::pair<std::string_view, ScaleDtype>, 2> kScaleDtypes = {{
    {"none", ScaleDtype::kNone},
    {"float8_e8m0fnu", ScaleDtype::kFloat8E8m0fnu},
}};

}  // namespace

std::string_view DtypeName(Dtype d) { return NameOf(kDtypes, d); }
std::string_view QSchemeName(QScheme q) { return NameOf(kQSchemes, q); }
std::string_view QFormulationName(QFormulation q) { return NameOf(kQFormulations, q); }
std::string_view GranularityName(GranularityKind g) { return NameOf(kGranularities, g); }
std::string_view QParamsName(QParamsKind q) { return NameOf(kQParams, q); }
std::string_view ScaleDtypeName(ScaleDtype s) { return NameOf(kScaleDtypes, s); }

std::optional<Dtype> ParseDtype(std::string_view name) {
  // coreai_opt's string aliases (§c.1).
  if (name == "float4_e2m1fn") return Dtype::kFloat4E2m1fnX2;
  if (name == "float8_e4m3") return Dtype::kFloat8E4m3fn;
  return Lookup(kDtypes, name);
}
std::optional<QScheme> ParseQScheme(std::string_view name) { return Lookup(kQSchemes, name); }
std::optional<QFormulation> ParseQFormulation(std::string_view name) {
  return Lookup(kQFormulations, name);
}
std::optional<GranularityKind> ParseGranularity(std::string_view name) {
  return Lookup(kGranularities, name);
}
std::optional<QParamsKind> ParseQParams(std::string_view name) { return Lookup(kQParams, name); }
std::optional<ScaleDtype> ParseScaleDtype(std::string_view name) {
  if (name == "float8_e8m0") return ScaleDtype::kFloat8E8m0fnu;  // the alias of §c.1
  return Lookup(kScaleDtypes, name);
}

std::vector<std::string_view> AllDtypeNames() {
  std::vector<std::string_view> names;
  names.reserve(kDtypes.size());
  for (const auto& entry : kDtypes) names.push_back(entry.first);
  return names;
}

bool IsFloatingDtype(Dtype d) {
  return d == Dtype::kFloat8E4m3fn || d == Dtype::kFloat8E5m2 || d == Dtype::kFloat4E2m1fnX2;
}

int DtypeBits(Dtype d) {
  switch (d) {
    case Dtype::kInt8:
    case Dtype::kUint8:
    case Dtype::kFloat8E4m3fn:
    case Dtype::kFloat8E5m2:
      return 8;
    case Dtype::kInt4:
    case Dtype::kUint4:
    case Dtype::kFloat4E2m1fnX2:
      return 4;
    case Dtype::kInt2:
    case Dtype::kUint2:
      return 2;
  }
  return 8;
}

float FloatMax(Dtype d) {
  switch (d) {
    case Dtype::kFloat8E4m3fn:
      return 448.0f;
    case Dtype::kFloat8E5m2:
      return 57344.0f;
    case Dtype::kFloat4E2m1fnX2:
      return 6.0f;
    default:
      return 0.0f;
  }
}

IntRange QuantRange(Dtype d, QScheme q) {
  if (IsFloatingDtype(d)) {
    const auto m = static_cast<int32_t>(FloatMax(d));
    return {-m, m};
  }
  const int bits = DtypeBits(d);
  const bool is_signed = d == Dtype::kInt8 || d == Dtype::kInt4 || d == Dtype::kInt2;
  if (!is_signed) return {0, (int32_t{1} << bits) - 1};
  const int32_t qmax = (int32_t{1} << (bits - 1)) - 1;
  if (q == QScheme::kSymmetricWithClipping) return {-qmax, qmax};
  return {-qmax - 1, qmax};
}

QParamsKind QuantizationSpec::EffectiveQParams(bool is_state) const {
  if (qparams != QParamsKind::kDefault) return qparams;
  return is_state ? QParamsKind::kStatic : QParamsKind::kMovingAverage;
}

ScaleDtype QuantizationSpec::EffectiveScaleDtype() const {
  return dtype == Dtype::kFloat4E2m1fnX2 ? ScaleDtype::kFloat8E8m0fnu : scale_dtype;
}

bool QuantizationSpec::SameNumerics(const QuantizationSpec& other) const {
  return dtype == other.dtype && qscheme == other.qscheme && qformulation == other.qformulation &&
         granularity == other.granularity && qparams == other.qparams &&
         averaging_constant == other.averaging_constant &&
         float_range_min == other.float_range_min && float_range_max == other.float_range_max &&
         scale_dtype == other.scale_dtype;
}

QuantizationSpec DefaultWeightSpec() {
  QuantizationSpec spec;
  spec.granularity.kind = GranularityKind::kPerChannel;
  spec.granularity.axis = 0;
  spec.qparams = QParamsKind::kStatic;
  return spec;
}

QuantizationSpec DefaultActivationSpec() {
  QuantizationSpec spec;
  spec.qparams = QParamsKind::kMovingAverage;
  return spec;
}

}  // namespace qrules
