// qrules/config.h — the configuration model: QuantizationSpec, OpQuantizerConfig,
// ModuleQuantizerConfig, QuantizerConfig and QATSchedule, exactly as coreai_opt defines them
// (grammar/SEMANTICS.md §a, §c.1–c.2, §c.9).
//
// These are plain value types.  A compiled .qrules file yields a `QuantizerConfig` (see compile.h);
// programs may also build one in C++:
//
//   qrules::QuantizerConfig cfg;                       // global absent => the default W8A8 config
//   qrules::ModuleQuantizerConfig lin = qrules::ModuleQuantizerConfig::Disabled();
//   lin.op_state = qrules::TensorSpecMap::Of({{qrules::TensorKey::Name("weight"),
//                                              qrules::DefaultWeightSpec()}});
//   cfg.module_type.push_back({"torch.nn.modules.linear.Linear", lin});
//
// The three states of a tensor group follow coreai_opt:
//   * omitted  -> the class default ({"*": default activation} or {"weight": default weight});
//   * `none`   -> an empty map: quantize none of these tensors;
//   * a map    -> exactly those keys; a key whose value is `none` explicitly disables that tensor
//                 (and still counts as a match: it stops the `*` fallback).
// Every element keeps the SourceRange it was parsed from (empty for elements built in C++).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "qrules/source.h"

namespace qrules {

// --- QuantizationSpec fields (§a.8, §c.1) ----------------------------------------------------------

enum class Dtype {
  kInt8, kInt4, kInt2, kUint8, kUint4, kUint2,
  kFloat8E4m3fn, kFloat8E5m2, kFloat4E2m1fnX2,
};
enum class QScheme { kSymmetric, kSymmetricWithClipping, kAsymmetric };
enum class QFormulation { kZp, kMinval };
enum class GranularityKind { kPerTensor, kPerChannel, kPerBlock };
// `kDefault` is resolved by context: static for weights (state tensors), moving_average for
// activations (§c.7).
enum class QParamsKind { kDefault, kStatic, kMovingAverage, kGlobalMinmax };
enum class ScaleDtype { kNone, kFloat8E8m0fnu };

// Spellings as in the language and in coreai_opt ("int8", "float8_e4m3fn", "per_block", ...).
std::string_view DtypeName(Dtype d);
std::string_view QSchemeName(QScheme q);
std::string_view QFormulationName(QFormulation q);
std::string_view GranularityName(GranularityKind g);
std::string_view QParamsName(QParamsKind q);
std::string_view ScaleDtypeName(ScaleDtype s);
// Parses a name; accepts coreai_opt's aliases (float4_e2m1fn, float8_e4m3).  nullopt if unknown.
std::optional<Dtype> ParseDtype(std::string_view name);
std::optional<QScheme> ParseQScheme(std::string_view name);
std::optional<QFormulation> ParseQFormulation(std::string_view name);
std::optional<GranularityKind> ParseGranularity(std::string_view name);
std::optional<QParamsKind> ParseQParams(std::string_view name);
std::optional<ScaleDtype> ParseScaleDtype(std::string_view name);
// The canonical names, for suggestions and documentation.
std::vector<std::string_view> AllDtypeNames();

bool IsFloatingDtype(Dtype d);  // the FP8 / FP4 formats
int DtypeBits(Dtype d);
// The integer clamp range of §c.1 (symmetric_with_clipping gives qmin = -qmax for signed dtypes).
// For floating dtypes: qmin = -fp_max, qmax = fp_max (rounded to integers; use FloatMax instead).
struct IntRange {
  int32_t qmin;
  int32_t qmax;
};
IntRange QuantRange(Dtype d, QScheme q);
// ±finfo.max of a floating dtype: 448, 57344, 6.
float FloatMax(Dtype d);

// --- Granularity (§a.7, §c.5) ----------------------------------------------------------------------
struct Granularity {
  GranularityKind kind = GranularityKind::kPerTensor;
  // per_channel: any axis, negative allowed; per_block with an int block size: 0 or 1.
  // nullopt: resolved from the consuming op for weights (§b.10).
  std::optional<int64_t> axis;
  // per_block only.  One entry and !block_is_tuple: `block_size: 32`.  Otherwise a per-dimension
  // tuple whose entries are > 0 or -1 (the whole dimension).
  std::vector<int64_t> block_size;
  bool block_is_tuple = false;

  friend bool operator==(const Granularity&, const Granularity&) = default;
};

// --- QuantizationSpec ------------------------------------------------------------------------------
struct QuantizationSpec {
  Dtype dtype = Dtype::kInt8;
  QScheme qscheme = QScheme::kSymmetric;
  QFormulation qformulation = QFormulation::kZp;
  Granularity granularity;
  QParamsKind qparams = QParamsKind::kDefault;
  float averaging_constant = 0.01f;  // moving_average only
  std::optional<float> float_range_min;
  std::optional<float> float_range_max;
  ScaleDtype scale_dtype = ScaleDtype::kNone;  // FP4 forces float8_e8m0fnu (§c.2)

  // The spec's name when it came from `spec NAME` (or "" for an inline spec), and where it was
  // written.  Not part of equality.
  std::string name;
  SourceRange where;

  // `default` resolved for a target: weights (state) -> static, activations -> moving_average.
  QParamsKind EffectiveQParams(bool is_state) const;
  // The scale dtype after §c.2's rule (FP4 always float8_e8m0fnu).
  ScaleDtype EffectiveScaleDtype() const;

  bool SameNumerics(const QuantizationSpec& other) const;  // every field but name/where
};

// §c.9
QuantizationSpec DefaultWeightSpec();      // int8 symmetric per_channel(axis 0), static
QuantizationSpec DefaultActivationSpec();  // int8 symmetric per_tensor, moving_average

// --- Tensor maps (§a.1) ----------------------------------------------------------------------------

// A key of a tensor map: an input/output index, a tensor name (an input/output name from the op
// registry, or a state's local name such as `weight`), or `*`.
struct TensorKey {
  enum class Kind { kIndex, kName, kAll };
  Kind kind = Kind::kAll;
  int64_t index = 0;
  std::string name;

  static TensorKey Index(int64_t i) { return {Kind::kIndex, i, {}}; }
  static TensorKey Name(std::string n) { return {Kind::kName, 0, std::move(n)}; }
  static TensorKey All() { return {Kind::kAll, 0, {}}; }
  std::string ToString() const;  // "0", "weight", "*"
  friend bool operator==(const TensorKey& a, const TensorKey& b) {
    return a.kind == b.kind && a.index == b.index && a.name == b.name;
  }
};

struct TensorSpecEntry {
  TensorKey key;
  std::optional<QuantizationSpec> spec;  // nullopt: explicitly disabled (`none`)
  SourceRange where;                     // the whole `key: value` entry
};

// An ordered map from keys to specs (the order is the file's).
struct TensorSpecMap {
  std::vector<TensorSpecEntry> entries;

  static TensorSpecMap Of(std::vector<std::pair<TensorKey, std::optional<QuantizationSpec>>> kv);
  bool empty() const { return entries.empty(); }
  // The entry for `key` exactly, or nullptr.
  const TensorSpecEntry* Find(const TensorKey& key) const;
};

// A tensor group as written: omitted (nullopt), `none` (present, empty), or a map.
using TensorGroup = std::optional<TensorSpecMap>;

// --- OpQuantizerConfig (§a.2) ----------------------------------------------------------------------
struct OpQuantizerConfig {
  TensorGroup op_input;   // omitted => {"*": DefaultActivationSpec()}
  TensorGroup op_output;  // omitted => {"*": DefaultActivationSpec()}
  TensorGroup op_state;   // omitted => {"weight": DefaultWeightSpec()}
  SourceRange where;

  // An op config with all three groups empty (`op_type cat: none`).
  static OpQuantizerConfig Disabled();
  // The group with class defaults filled in.
  TensorSpecMap Input() const;
  TensorSpecMap Output() const;
  TensorSpecMap State() const;
};

// A selector of a scope or op entry: an exact name, or an RE2 regex matched against the whole name.
struct NameSelector {
  std::string text;  // the name, or the regex source (without slashes)
  bool is_regex = false;
  SourceRange where;
  std::string ToString() const;  // "\"exact\"" or "/regex/"
};

// `expect N` / `expect >= N` on a scope or op entry: how many modules or ops it must match.
struct Expectation {
  enum class Op { kEq, kGe, kLe, kGt, kLt };
  Op op = Op::kEq;
  int64_t count = 0;
  SourceRange where;
  bool Holds(int64_t actual) const;
  std::string ToString() const;  // "== 3", ">= 1"
};

struct OpTypeEntry {
  std::string op_type;
  std::optional<OpQuantizerConfig> config;  // nullopt: `: none`, i.e. OpQuantizerConfig::Disabled()
  std::optional<Expectation> expect;
  SourceRange where;
  OpQuantizerConfig Effective() const { return config ? *config : OpQuantizerConfig::Disabled(); }
};

struct OpNameEntry {
  NameSelector selector;
  std::optional<OpQuantizerConfig> config;
  std::optional<Expectation> expect;
  SourceRange where;
  OpQuantizerConfig Effective() const { return config ? *config : OpQuantizerConfig::Disabled(); }
};

// --- QATSchedule (§a.5, §d) ------------------------------------------------------------------------
struct QATSchedule {
  int64_t enable_observer = 0;
  int64_t enable_fake_quant = 0;
  std::optional<int64_t> disable_observer;
  SourceRange where;

  bool ObserverOn(int64_t step) const {
    return enable_observer <= step && (!disable_observer || step < *disable_observer);
  }
  bool FakeQuantOn(int64_t step) const { return step >= enable_fake_quant; }
};

// --- ModuleQuantizerConfig (§a.3) ------------------------------------------------------------------
struct ModuleQuantizerConfig {
  TensorGroup op_input;   // omitted => {"*": default activation}
  TensorGroup op_output;  // omitted => {"*": default activation}
  TensorGroup op_state;   // omitted => {"weight": default weight}
  std::vector<OpTypeEntry> op_type;   // file order; keys unique
  std::vector<OpNameEntry> op_name;   // file order; the last matching entry wins
  TensorSpecMap module_input;         // always "{}" unless given
  TensorSpecMap module_output;
  TensorSpecMap module_state;
  std::optional<QATSchedule> qat_schedule;
  SourceRange where;

  // `none`: all six groups empty, no op entries, no schedule.
  static ModuleQuantizerConfig Disabled();
  // The default-constructed value is the W8A8 module config (every group omitted).
  OpQuantizerConfig DefaultOpConfig() const;  // op_* groups, class defaults filled in
  // The copy a child inherits (§b.1): module-level spec maps emptied.
  ModuleQuantizerConfig ForChild() const;
};

// A module_type or module_name scope.
struct ModuleTypeEntry {
  std::string type_name;  // fully-qualified, e.g. torch.nn.modules.linear.Linear
  ModuleQuantizerConfig config;
  bool disabled = false;  // written `: none`
  std::optional<Expectation> expect;
  SourceRange where;
};
struct ModuleNameEntry {
  NameSelector selector;
  ModuleQuantizerConfig config;
  bool disabled = false;
  std::optional<Expectation> expect;
  SourceRange where;
};

// --- QuantizerConfig (§a.4) ------------------------------------------------------------------------
struct QuantizerConfig {
  // nullopt: `global` absent => ModuleQuantizerConfig() (W8A8).  `global: none` stores
  // ModuleQuantizerConfig::Disabled() with global_disabled = true.
  std::optional<ModuleQuantizerConfig> global;
  bool global_disabled = false;
  std::vector<ModuleTypeEntry> module_type;  // file order; later entry wins (§b.1)
  std::vector<ModuleNameEntry> module_name;  // file order; later entry wins (§b.1)

  ModuleQuantizerConfig EffectiveGlobal() const { return global ? *global : ModuleQuantizerConfig(); }
};

}  // namespace qrules
