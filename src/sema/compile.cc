// Semantic analysis: parse trees of a file and its imports -> QuantizerConfig + diagnostics.
//
// Order of work: load the main file and, depth first, every import (cycles reported with the
// include chain); collect every named spec; resolve specs lazily (inheritance, cycles); build the
// scopes; then the static lints.  Errors never stop the walk early, so one run reports as many
// independent problems as it can.
#include <cerrno>
#include <charconv>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>
#include <sstream>

#include <fmt/format.h>
#include <re2/re2.h>
#include <re2/set.h>

#include "qrules/compile.h"
#include "sema/sema.h"
#include "syntax/syntax.h"

namespace qrules {
namespace g = syntax::grammar;
using syntax::Child;
using syntax::Is;
using syntax::Node;
using SourcePtr = std::shared_ptr<const Source>;

namespace {

constexpr std::string_view kSpecFields[] = {"dtype", "qscheme", "qformulation", "granularity",
                                            "qparams", "range", "float_range", "scale_dtype",
                                            "fake_quantize"};
constexpr std::string_view kScheduleFields[] = {"enable_observer", "enable_fake_quant",
                                                "disable_observer"};
constexpr std::string_view kQSchemes[] = {"symmetric", "symmetric_with_clipping", "asymmetric"};
constexpr std::string_view kQFormulations[] = {"zp", "minval"};
constexpr std::string_view kGranularities[] = {"per_tensor", "per_channel", "per_block"};
constexpr std::string_view kQParams[] = {"default", "static", "moving_average", "global_minmax"};

// Short names of common torch.nn module classes, for the short-type-name hint.
constexpr std::pair<std::string_view, std::string_view> kTorchModuleTypes[] = {
    {"Linear", "torch.nn.modules.linear.Linear"},
    {"Identity", "torch.nn.modules.linear.Identity"},
    {"Conv1d", "torch.nn.modules.conv.Conv1d"},
    {"Conv2d", "torch.nn.modules.conv.Conv2d"},
    {"Conv3d", "torch.nn.modules.conv.Conv3d"},
    {"ConvTranspose1d", "torch.nn.modules.conv.ConvTranspose1d"},
    {"ConvTranspose2d", "torch.nn.modules.conv.ConvTranspose2d"},
    {"ConvTranspose3d", "torch.nn.modules.conv.ConvTranspose3d"},
    {"Embedding", "torch.nn.modules.sparse.Embedding"},
    {"MultiheadAttention", "torch.nn.modules.activation.MultiheadAttention"},
    {"ReLU", "torch.nn.modules.activation.ReLU"},
    {"GELU", "torch.nn.modules.activation.GELU"},
    {"Sigmoid", "torch.nn.modules.activation.Sigmoid"},
    {"Tanh", "torch.nn.modules.activation.Tanh"},
    {"Softmax", "torch.nn.modules.activation.Softmax"},
    {"BatchNorm1d", "torch.nn.modules.batchnorm.BatchNorm1d"},
    {"BatchNorm2d", "torch.nn.modules.batchnorm.BatchNorm2d"},
    {"LayerNorm", "torch.nn.modules.normalization.LayerNorm"},
    {"Sequential", "torch.nn.modules.container.Sequential"},
    {"ModuleList", "torch.nn.modules.container.ModuleList"},
    {"MaxPool2d", "torch.nn.modules.pooling.MaxPool2d"},
    {"AvgPool2d", "torch.nn.modules.pooling.AvgPool2d"},
    {"AdaptiveAvgPool2d", "torch.nn.modules.pooling.AdaptiveAvgPool2d"},
    {"Dropout", "torch.nn.modules.dropout.Dropout"},
    {"Flatten", "torch.nn.modules.flatten.Flatten"},
};

// One `spec NAME ...` declaration, resolved on first use.
struct SpecDecl {
  std::string name;
  SourcePtr source;
  const Node* decl = nullptr;
  const Node* parent = nullptr;  // parent_name node or null
  const Node* body = nullptr;
  enum class State { kUnresolved, kResolving, kDone } state = State::kUnresolved;
  bool ok = true;
  bool used = false;
  bool from_import = false;
  QuantizationSpec spec;
};

struct LoadedFile {
  SourcePtr source;
  std::unique_ptr<syntax::Tree> tree;
  bool is_main = false;
};

// Limits on what a rule file may ask for, so that hostile input cannot exhaust the stack or the
// clock: imported files per compilation, the depth of the import chain, and the depth of spec
// inheritance (resolved recursively).  Real files stay far below them.
constexpr size_t kMaxImportedFiles = 256;
constexpr size_t kMaxImportDepth = 32;
constexpr int kMaxSpecDepth = 64;

class Compiler {
 public:
  explicit Compiler(const CompileOptions& options) : options_(options) {}

  CompileResult Run(SourcePtr main) {
    Load(std::move(main), /*is_main=*/true, {});
    auto rules = std::make_shared<CompiledRules>();
    for (const auto& f : files_) {
      if (f.tree) CollectSpecs(f);
    }
    for (const auto& f : files_) {
      if (f.is_main && f.tree) BuildScopes(f, rules->config);
    }
    // Resolve every spec (also the unused ones) so that their errors are reported.
    for (auto& [name, decl] : specs_) ResolveSpec(decl);
    if (options_.lint) Lint(rules->config);
    for (auto& [name, decl] : specs_) {
      if (decl.ok) rules->specs.emplace(name, decl.spec);
    }
    for (const auto& f : files_) rules->sources.push_back(f.source);
    CompileResult result;
    // Files in the order they were first reported, then by position within each file.
    std::map<std::string, size_t> file_rank;
    for (const auto& d : diags_) file_rank.emplace(d.location.file, file_rank.size());
    std::stable_sort(diags_.begin(), diags_.end(), [&](const Diagnostic& a, const Diagnostic& b) {
      return std::make_tuple(file_rank[a.location.file], a.location.line, a.location.column) <
             std::make_tuple(file_rank[b.location.file], b.location.line, b.location.column);
    });
    result.diagnostics = std::move(diags_);
    if (!HasErrors(result.diagnostics)) result.rules = std::move(rules);
    return result;
  }

 private:
  // --- diagnostics ------------------------------------------------------------------------------
  Diagnostic& Report(DiagCode code, const SourcePtr& src, const Node& n, std::string message) {
    return Report(code, SourceRange{src, syntax::BeginOffset(n, *src), syntax::EndOffset(n, *src)},
                  std::move(message));
  }
  Diagnostic& Report(DiagCode code, const SourceRange& r, std::string message) {
    diags_.push_back(MakeDiagnostic(code, DiagLocation::From(r), std::move(message)));
    if (!import_chain_.empty() && r.source && r.source != files_.front().source) {
      // Problems in imported files say how the file was reached.
      for (auto it = import_chain_.rbegin(); it != import_chain_.rend(); ++it) {
        diags_.back().notes.push_back({DiagLocation::From(it->second), fmt::format("imported from here")});
      }
    }
    return diags_.back();
  }

  // --- loading ----------------------------------------------------------------------------------
  void Load(SourcePtr src, bool is_main, std::vector<std::pair<std::string, SourceRange>> chain) {
    syntax::ParseOutput parsed = syntax::Parse(src, /*keep_comments=*/false);
    for (auto& d : parsed.diagnostics) {
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        d.notes.push_back({DiagLocation::From(it->second), "imported from here"});
      }
      diags_.push_back(std::move(d));
    }
    loaded_.insert(CanonicalName(src->name()));
    files_.push_back({src, std::move(parsed.root), is_main});
    const Node* root = files_.back().tree.get();
    if (!root) return;
    CheckVersion(src, *root);
    for (const auto& item : root->children) {
      if (!Is<g::import_decl>(*item)) continue;
      const Node* path_node = Child<g::import_path>(*item);
      std::string rel = syntax::StringValue(path_node->string_view());
      std::filesystem::path base = std::filesystem::path(src->name()).parent_path();
      std::string path = (base / rel).lexically_normal().string();
      SourceRange where = syntax::RangeOf(*path_node, src);
      std::string canonical = CanonicalName(path);
      // A cycle: the file is on the current import chain (or is the importing file itself).
      bool on_chain = canonical == CanonicalName(src->name());
      for (const auto& [name, r] : chain) on_chain = on_chain || CanonicalName(name) == canonical;
      if (on_chain) {
        Diagnostic& d = Report(DiagCode::kImportCycle, where,
                               fmt::format("import of '{}' forms a cycle", rel));
        d.notes.clear();
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
          d.notes.push_back({DiagLocation::From(it->second), fmt::format("'{}' is imported from here", src->name())});
        }
        continue;
      }
      if (loaded_.count(canonical)) continue;  // imports are idempotent
      // Only .qrules files: an import of /etc/passwd or /proc/self/environ must not read it (and
      // then quote its lines in a syntax error).
      if (std::filesystem::path(path).extension() != ".qrules") {
        Report(DiagCode::kIoError, where, fmt::format("cannot import '{}': imports read .qrules files only", rel));
        continue;
      }
      if (loaded_.size() >= kMaxImportedFiles || chain.size() >= kMaxImportDepth) {
        Report(DiagCode::kLimitExceeded, where,
               fmt::format("cannot import '{}': more than {} files, or imports nested more than {} deep", rel,
                           kMaxImportedFiles, kMaxImportDepth));
        continue;
      }
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) {
        Report(DiagCode::kImportNotFound, where, fmt::format("imported file '{}' not found", path));
        continue;
      }
      std::string text;
      std::string error;
      if (!ReadFile(path, options_.max_file_bytes, text, error)) {
        Report(DiagCode::kIoError, where, fmt::format("cannot read imported file '{}': {}", path, error));
        continue;
      }
      auto next_chain = chain;
      next_chain.push_back({src->name(), where});
      import_chain_ = next_chain;
      Load(std::make_shared<const Source>(path, std::move(text)), false, next_chain);
      import_chain_ = chain;
    }
  }

  static std::string CanonicalName(const std::string& path) {
    std::error_code ec;
    auto p = std::filesystem::weakly_canonical(path, ec);
    return ec ? std::filesystem::path(path).lexically_normal().string() : p.string();
  }

  void CheckVersion(const SourcePtr& src, const Node& root) {
    const Node* v = Child<g::version>(root);
    if (!v) return;
    std::string_view text = v->string_view();
    if (text != std::to_string(syntax::kFormatVersion)) {
      Report(DiagCode::kUnsupportedVersion, src, *v,
             fmt::format("format version {} is not supported; this qrules reads version {}",
                         text, syntax::kFormatVersion));
    }
  }

  // --- specs ------------------------------------------------------------------------------------
  void CollectSpecs(const LoadedFile& f) {
    for (const auto& item : f.tree->children) {
      if (!Is<g::spec_decl>(*item)) {
        if (!f.is_main && !Is<g::import_decl>(*item) && !Is<g::comment>(*item) && !Is<g::version>(*item)) {
          Report(DiagCode::kImportedScope, f.source, *item,
                 "scopes in an imported file are ignored: imports bring in specs only");
        }
        continue;
      }
      const Node* name = Child<g::spec_name>(*item);
      std::string key(name->string_view());
      auto it = specs_.find(key);
      if (it != specs_.end()) {
        Diagnostic& d = Report(DiagCode::kRedefinedSpec, f.source, *name,
                               fmt::format("redefinition of spec '{}'", key));
        const SpecDecl& prev = it->second;
        d.notes.push_back({DiagLocation::From(syntax::RangeOf(*Child<g::spec_name>(*prev.decl), prev.source)),
                           "previous definition is here"});
        continue;
      }
      SpecDecl decl;
      decl.name = key;
      decl.source = f.source;
      decl.decl = item.get();
      decl.parent = Child<g::parent_name>(*item);
      decl.body = Child<g::spec_body>(*item);
      decl.from_import = !f.is_main;
      specs_.emplace(key, std::move(decl));
    }
  }

  // Returns the resolved spec, or nullptr when it (or an ancestor) is broken.
  const QuantizationSpec* ResolveSpec(SpecDecl& decl) {
    if (decl.state == SpecDecl::State::kDone) return decl.ok ? &decl.spec : nullptr;
    if (decl.state == SpecDecl::State::kResolving) {
      Report(DiagCode::kSpecCycle, decl.source, *Child<g::spec_name>(*decl.decl),
             fmt::format("spec '{}' inherits from itself", decl.name));
      decl.ok = false;
      return nullptr;
    }
    if (spec_depth_ >= kMaxSpecDepth) {
      Report(DiagCode::kLimitExceeded, decl.source, *Child<g::spec_name>(*decl.decl),
             fmt::format("spec '{}' is more than {} levels of inheritance deep", decl.name, kMaxSpecDepth));
      decl.ok = false;
      decl.state = SpecDecl::State::kDone;
      return nullptr;
    }
    decl.state = SpecDecl::State::kResolving;
    QuantizationSpec base;
    bool ok = true;
    if (decl.parent) {
      std::string parent(decl.parent->string_view());
      ++spec_depth_;
      const QuantizationSpec* p = LookupSpec(parent, decl.source, *decl.parent);
      --spec_depth_;
      if (p) {
        base = *p;
      } else {
        ok = false;
      }
    }
    ok = ApplySpecBody(base, *decl.body, decl.source) && ok;
    base.name = decl.name;
    base.where = syntax::RangeOf(*decl.decl, decl.source);
    decl.spec = std::move(base);
    decl.ok = decl.ok && ok;
    decl.state = SpecDecl::State::kDone;
    return decl.ok ? &decl.spec : nullptr;
  }

  const QuantizationSpec* LookupSpec(const std::string& name, const SourcePtr& src, const Node& at) {
    auto it = specs_.find(name);
    if (it == specs_.end()) {
      Diagnostic& d = Report(DiagCode::kUnknownSpec, src, at, fmt::format("unknown spec '{}'", name));
      std::vector<std::string_view> names;
      for (const auto& [n, s] : specs_) names.push_back(n);
      d.suggestions = SuggestSimilar(name, names);
      return nullptr;
    }
    it->second.used = true;
    return ResolveSpec(it->second);
  }

  // Applies the fields of a spec body over `spec`.  Returns false if any error was reported.
  bool ApplySpecBody(QuantizationSpec& spec, const Node& body, const SourcePtr& src) {
    size_t errors_before = ErrorCount();
    std::map<std::string, const Node*> seen;
    for (const auto& field : body.children) {
      if (!Is<g::field>(*field)) continue;
      const Node* name_node = Child<g::field_name>(*field);
      std::string name(name_node->string_view());
      const Node& value = *field->children.back();
      if (!FirstOccurrence(seen, name, *name_node, src, [&] { return fmt::format("field '{}' is set twice", name); }, "first set here")) {
        continue;
      }
      ApplyField(spec, name, *name_node, value, src);
    }
    if (ErrorCount() == errors_before) CheckSpec(spec, body, src, seen);
    return ErrorCount() == errors_before;
  }

  // Records `key` as seen at `at`.  A key seen before is a duplicate-entry error at `at` (with the
  // text `message()`), with a note at the first occurrence; returns false then.
  template <typename Map, typename MessageFn>
  bool FirstOccurrence(Map& seen, const typename Map::key_type& key, const Node& at, const SourcePtr& src,
                       const MessageFn& message, const char* note) {
    return FirstOccurrence(seen, key, at, syntax::RangeOf(at, src), src, message, note);
  }
  // The same, reported at `where` (e.g. the selector of the entry `at`).
  template <typename Map, typename MessageFn>
  bool FirstOccurrence(Map& seen, const typename Map::key_type& key, const Node& at, const SourceRange& where,
                       const SourcePtr& src, const MessageFn& message, const char* note) {
    auto [it, inserted] = seen.emplace(key, &at);
    if (inserted) return true;
    Diagnostic& d = Report(DiagCode::kDuplicateEntry, where, message());
    d.notes.push_back({DiagLocation::From(syntax::RangeOf(*it->second, src)), note});
    return false;
  }

  size_t ErrorCount() const { return CountSeverity(diags_, Severity::kError); }

  // A bare word value, or an error "expected a name".
  std::optional<std::string_view> WordOf(const Node& value, const SourcePtr& src, std::string_view field) {
    if (Is<g::word>(value)) return value.string_view();
    Report(DiagCode::kInvalidValue, src, value, fmt::format("expected a name for '{}'", field));
    return std::nullopt;
  }

  template <typename Enum>
  void ApplyEnum(Enum& target, std::optional<Enum> (*parse)(std::string_view), const Node& value,
                 const SourcePtr& src, DiagCode code, std::string_view what,
                 std::span<const std::string_view> names) {
    auto word = WordOf(value, src, what);
    if (!word) return;
    if (auto v = parse(*word)) {
      target = *v;
      return;
    }
    Diagnostic& d = Report(code, src, value, fmt::format("unknown {} '{}'", what, *word));
    d.suggestions = SuggestSimilar(*word, names);
  }

  void ApplyField(QuantizationSpec& spec, const std::string& name, const Node& name_node,
                  const Node& value, const SourcePtr& src) {
    if (name == "dtype") {
      std::vector<std::string_view> names = AllDtypeNames();
      ApplyEnum(spec.dtype, &ParseDtype, value, src, DiagCode::kUnknownDtype, "dtype", names);
    } else if (name == "qscheme") {
      ApplyEnum(spec.qscheme, &ParseQScheme, value, src, DiagCode::kUnknownQscheme, "qscheme", kQSchemes);
    } else if (name == "qformulation") {
      ApplyEnum(spec.qformulation, &ParseQFormulation, value, src, DiagCode::kUnknownQformulation,
                "qformulation", kQFormulations);
    } else if (name == "granularity") {
      ApplyGranularity(spec, value, src);
    } else if (name == "qparams") {
      ApplyQParams(spec, value, src);
    } else if (name == "range") {
      auto w = WordOf(value, src, "range");
      if (w && *w != "minmax") {
        Diagnostic& d = Report(DiagCode::kInvalidValue, src, value,
                               fmt::format("unknown range calculator '{}'; the only one is 'minmax'", *w));
        static constexpr std::string_view kRanges[] = {"minmax"};
        d.suggestions = SuggestSimilar(*w, kRanges);
      }
    } else if (name == "fake_quantize") {
      auto w = WordOf(value, src, "fake_quantize");
      if (w && *w != "default") {
        Report(DiagCode::kInvalidValue, src, value,
               fmt::format("unknown fake_quantize implementation '{}'; the only one is 'default'", *w));
      }
    } else if (name == "scale_dtype") {
      static constexpr std::string_view kScaleDtypes[] = {"none", "float8_e8m0fnu"};
      ApplyEnum(spec.scale_dtype, &ParseScaleDtype, value, src, DiagCode::kInvalidValue,
                "scale_dtype", kScaleDtypes);
    } else if (name == "float_range") {
      ApplyFloatRange(spec, value, src);
    } else {
      Diagnostic& d = Report(DiagCode::kUnknownField, src, name_node,
                             fmt::format("unknown field '{}' in a spec", name));
      d.suggestions = SuggestSimilar(name, kSpecFields);
    }
  }

  // Integer value of a number node, or nullopt with a diagnostic.
  std::optional<int64_t> IntOf(const Node& n, const SourcePtr& src, std::string_view what) {
    if (Is<g::number>(n)) {
      std::string_view t = n.string_view();
      int64_t v = 0;
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec == std::errc() && p == t.data() + t.size()) return v;
    }
    Report(DiagCode::kInvalidValue, src, n, fmt::format("expected an integer for '{}'", what));
    return std::nullopt;
  }

  // Float value of a number node (rounded to float32), or nullopt with a diagnostic.
  std::optional<float> FloatOf(const Node& n, const SourcePtr& src, std::string_view what) {
    if (Is<g::number>(n)) {
      std::string t(n.string_view());
      char* end = nullptr;
      double v = std::strtod(t.c_str(), &end);
      if (end == t.c_str() + t.size() && std::isfinite(v) && std::fabs(v) <= 3.4028234663852886e38) {
        return static_cast<float>(v);
      }
    }
    Report(DiagCode::kInvalidValue, src, n, fmt::format("expected a finite number for '{}'", what));
    return std::nullopt;
  }

  void ApplyGranularity(QuantizationSpec& spec, const Node& value, const SourcePtr& src) {
    const Node* name_node = Is<g::call>(value) ? Child<g::call_name>(value) : &value;
    if (!Is<g::word>(*name_node) && !Is<g::call_name>(*name_node)) {
      Report(DiagCode::kInvalidValue, src, value,
             "expected per_tensor, per_channel(axis: N) or per_block(block_size: N)");
      return;
    }
    std::string_view word = name_node->string_view();
    auto kind = ParseGranularity(word);
    if (!kind) {
      Diagnostic& d = Report(DiagCode::kUnknownGranularity, src, *name_node,
                             fmt::format("unknown granularity '{}'", word));
      d.suggestions = SuggestSimilar(word, kGranularities);
      return;
    }
    Granularity gr;
    gr.kind = *kind;
    bool has_block = false;
    if (Is<g::call>(value)) {
      std::set<std::string> seen;
      for (const auto& arg : value.children) {
        if (Is<g::call_name>(*arg) || Is<g::comment>(*arg)) continue;
        if (!Is<g::named_argument>(*arg)) {
          Report(DiagCode::kInvalidValue, src, *arg,
                 fmt::format("arguments of {} are named, e.g. {}", word,
                             *kind == GranularityKind::kPerBlock ? "per_block(block_size: 32)"
                                                                  : "per_channel(axis: 0)"));
          continue;
        }
        const Node* an = Child<g::argument_name>(*arg);
        std::string aname(an->string_view());
        const Node& av = *arg->children.back();
        if (!seen.insert(aname).second) {
          Report(DiagCode::kDuplicateEntry, src, *an, fmt::format("argument '{}' is given twice", aname));
          continue;
        }
        bool allowed = (aname == "axis" && *kind != GranularityKind::kPerTensor) ||
                       (aname == "block_size" && *kind == GranularityKind::kPerBlock);
        if (!allowed) {
          std::vector<std::string_view> options;
          if (*kind != GranularityKind::kPerTensor) options.push_back("axis");
          if (*kind == GranularityKind::kPerBlock) options.push_back("block_size");
          Diagnostic& d = Report(DiagCode::kUnknownField, src, *an,
                                 fmt::format("{} has no argument '{}'", word, aname));
          d.suggestions = SuggestSimilar(aname, options);
          continue;
        }
        if (aname == "axis") {
          if (Is<g::word>(av) && av.string_view() == "none") continue;  // axis: none = resolve later
          if (auto v = IntOf(av, src, "axis")) {
            if (*kind == GranularityKind::kPerBlock && (*v < 0 || *v > 1)) {
              Report(DiagCode::kInvalidValue, src, av,
                     fmt::format("per_block axis must be 0 or 1, got {}", *v));
            } else {
              gr.axis = *v;
            }
          }
        } else {  // block_size
          has_block = true;
          if (Is<g::tuple>(av)) {
            gr.block_is_tuple = true;
            for (const auto& e : av.children) {
              if (Is<g::comment>(*e)) continue;
              if (auto v = IntOf(*e, src, "block_size")) {
                if (*v <= 0 && *v != -1) {
                  Report(DiagCode::kInvalidValue, src, *e,
                         fmt::format("block sizes must be positive or -1 (the whole dimension), got {}", *v));
                }
                gr.block_size.push_back(*v);
              }
            }
            if (gr.block_size.empty()) {
              Report(DiagCode::kInvalidValue, src, av, "a block_size tuple needs at least one entry");
            }
          } else if (auto v = IntOf(av, src, "block_size")) {
            if (*v <= 0) {
              Report(DiagCode::kInvalidValue, src, av, fmt::format("block_size must be positive, got {}", *v));
            }
            gr.block_size.push_back(*v);
          }
        }
      }
    }
    if (*kind == GranularityKind::kPerBlock && !has_block) {
      Report(DiagCode::kInvalidValue, src, value, "per_block needs a block_size, e.g. per_block(block_size: 32)");
    }
    if (gr.block_is_tuple && gr.axis) {
      Report(DiagCode::kInvalidSpec, src, value,
             "per_block with a block_size tuple takes no axis: the tuple gives a size per dimension");
    }
    spec.granularity = std::move(gr);
  }

  void ApplyQParams(QuantizationSpec& spec, const Node& value, const SourcePtr& src) {
    const Node* name_node = Is<g::call>(value) ? Child<g::call_name>(value) : &value;
    if (!Is<g::word>(*name_node) && !Is<g::call_name>(*name_node)) {
      Report(DiagCode::kInvalidValue, src, value, "expected a qparams calculator name");
      return;
    }
    std::string_view word = name_node->string_view();
    auto kind = ParseQParams(word);
    if (!kind) {
      Diagnostic& d = Report(DiagCode::kUnknownQparams, src, *name_node,
                             fmt::format("unknown qparams calculator '{}'", word));
      d.suggestions = SuggestSimilar(word, kQParams);
      return;
    }
    spec.qparams = *kind;
    if (!Is<g::call>(value)) return;
    for (const auto& arg : value.children) {
      if (Is<g::call_name>(*arg) || Is<g::comment>(*arg)) continue;
      const Node* an = Is<g::named_argument>(*arg) ? Child<g::argument_name>(*arg) : nullptr;
      std::string aname = an ? std::string(an->string_view()) : "";
      if (*kind != QParamsKind::kMovingAverage || aname != "averaging_constant") {
        Report(DiagCode::kUnknownField, src, an ? *an : *arg,
               *kind == QParamsKind::kMovingAverage
                   ? fmt::format("moving_average has no argument '{}'; it takes averaging_constant", aname)
                   : fmt::format("{} takes no arguments", word));
        continue;
      }
      const Node& av = *arg->children.back();
      if (auto v = FloatOf(av, src, "averaging_constant")) {
        if (!(*v > 0.0f && *v <= 1.0f)) {
          Report(DiagCode::kInvalidValue, src, av, "averaging_constant must be in (0, 1]");
        } else {
          spec.averaging_constant = *v;
        }
      }
    }
  }

  void ApplyFloatRange(QuantizationSpec& spec, const Node& value, const SourcePtr& src) {
    if (!Is<g::list>(value)) {
      Report(DiagCode::kInvalidValue, src, value, "float_range is a list of two bounds, e.g. [none, 6.0]");
      return;
    }
    std::vector<const Node*> items;
    for (const auto& c : value.children) {
      if (!Is<g::comment>(*c)) items.push_back(c.get());
    }
    if (items.size() != 2) {
      Report(DiagCode::kInvalidValue, src, value,
             fmt::format("float_range takes exactly two bounds, got {}", items.size()));
      return;
    }
    std::optional<float> bounds[2];
    for (int i = 0; i < 2; ++i) {
      if (Is<g::word>(*items[i]) && items[i]->string_view() == "none") continue;
      auto v = FloatOf(*items[i], src, "float_range");
      if (!v) return;
      bounds[i] = v;
    }
    if (bounds[0] && *bounds[0] > 0.0f) {
      Report(DiagCode::kInvalidSpec, src, *items[0],
             fmt::format("the lower bound of float_range must be <= 0, got {}", items[0]->string_view()));
      return;
    }
    if (bounds[1] && *bounds[1] < 0.0f) {
      Report(DiagCode::kInvalidSpec, src, *items[1],
             fmt::format("the upper bound of float_range must be >= 0, got {}", items[1]->string_view()));
      return;
    }
    if (bounds[0] && bounds[1] && !(*bounds[0] < *bounds[1])) {
      Report(DiagCode::kInvalidSpec, src, value, "float_range needs lower < upper");
      return;
    }
    spec.float_range_min = bounds[0];
    spec.float_range_max = bounds[1];
  }

  // Cross-field rules of §c.2, checked on the spec after this body was applied.
  void CheckSpec(const QuantizationSpec& spec, const Node& body, const SourcePtr& src,
                 const std::map<std::string, const Node*>& fields) {
    auto at = [&](std::initializer_list<const char*> names) -> const Node& {
      for (const char* n : names) {
        auto it = fields.find(n);
        if (it != fields.end()) return *it->second;
      }
      return body;
    };
    if (IsFloatingDtype(spec.dtype)) {
      if (spec.qscheme != QScheme::kSymmetric) {
        Report(DiagCode::kInvalidSpec, src, at({"qscheme", "dtype"}),
               fmt::format("FP quantization (dtype={}) requires qscheme symmetric, got {}",
                           DtypeName(spec.dtype), QSchemeName(spec.qscheme)));
      }
      if (spec.qformulation != QFormulation::kZp) {
        Report(DiagCode::kInvalidSpec, src, at({"qformulation", "dtype"}),
               fmt::format("FP quantization (dtype={}) requires qformulation zp, got {}",
                           DtypeName(spec.dtype), QFormulationName(spec.qformulation)));
      }
    } else if (spec.scale_dtype != ScaleDtype::kNone) {
      Report(DiagCode::kInvalidSpec, src, at({"scale_dtype", "dtype"}),
             fmt::format("scale_dtype {} is only for floating dtypes; integer dtype {} uses float32 scales",
                         ScaleDtypeName(spec.scale_dtype), DtypeName(spec.dtype)));
    }
  }

  // --- scopes -----------------------------------------------------------------------------------
  void BuildScopes(const LoadedFile& f, QuantizerConfig& cfg) {
    const SourcePtr& src = f.source;
    const Node* first_global = nullptr;
    std::map<std::string, const Node*> types_seen;
    std::map<std::pair<bool, std::string>, const Node*> names_seen;
    for (const auto& item : f.tree->children) {
      if (Is<g::global_decl>(*item)) {
        if (first_global) {
          Diagnostic& d = Report(DiagCode::kDuplicateEntry, src, *item, "a second 'global' scope");
          d.location.length = 6;
          d.notes.push_back({DiagLocation::From(syntax::RangeOf(*first_global, src)), "the first is here"});
          continue;
        }
        first_global = item.get();
        if (Child<g::none_tail>(*item)) {
          cfg.global = ModuleQuantizerConfig::Disabled();
          cfg.global->where = syntax::RangeOf(*item, src);
          cfg.global_disabled = true;
        } else {
          cfg.global = BuildModuleConfig(*Child<g::scope_body>(*item), src, /*is_global=*/true);
          cfg.global->where = syntax::RangeOf(*item, src);
        }
      } else if (Is<g::module_type_decl>(*item)) {
        ModuleTypeEntry e;
        const Node* tn = Child<g::type_name>(*item);
        e.type_name = syntax::StringValue(tn->string_view());
        e.where = syntax::RangeOf(*item, src);
        e.expect = BuildExpect(*item, src);
        FirstOccurrence(types_seen, e.type_name, *tn, src,
                        [&] { return fmt::format("module_type \"{}\" is configured twice", e.type_name); }, "first configured here");
        if (options_.lint) CheckTypeName(e.type_name, *tn, src);
        FillScope(e.config, e.disabled, *item, src);
        e.config.where = e.where;
        cfg.module_type.push_back(std::move(e));
      } else if (Is<g::module_name_decl>(*item)) {
        ModuleNameEntry e;
        e.selector = BuildSelector(*item, src);
        e.where = syntax::RangeOf(*item, src);
        e.expect = BuildExpect(*item, src);
        FirstOccurrence(names_seen, std::make_pair(e.selector.is_regex, e.selector.text), *item, e.selector.where, src,
                        [&] { return fmt::format("module_name {} is configured twice", e.selector.ToString()); },
                        "first configured here");
        FillScope(e.config, e.disabled, *item, src);
        e.config.where = e.where;
        cfg.module_name.push_back(std::move(e));
      }
    }
  }

  void FillScope(ModuleQuantizerConfig& config, bool& disabled, const Node& item, const SourcePtr& src) {
    if (Child<g::none_tail>(item)) {
      config = ModuleQuantizerConfig::Disabled();
      disabled = true;
    } else {
      config = BuildModuleConfig(*Child<g::scope_body>(item), src, /*is_global=*/false);
    }
  }

  NameSelector BuildSelector(const Node& item, const SourcePtr& src) {
    NameSelector s;
    for (const auto& c : item.children) {
      if (Is<g::string>(*c)) {
        s.text = syntax::StringValue(c->string_view());
        s.where = syntax::RangeOf(*c, src);
        return s;
      }
      if (Is<g::regex>(*c)) {
        s.text = syntax::RegexValue(c->string_view());
        s.is_regex = true;
        s.where = syntax::RangeOf(*c, src);
        CheckRegex(s, *c, src);
        return s;
      }
    }
    return s;
  }

  // Whether RE2 accepts a pattern.  Parsing it into a (never compiled) RE2::Set is several times
  // cheaper than compiling an RE2; only long patterns, which may hit RE2's program size limit at
  // compile time, and rejected ones (for the error position) are compiled on their own.
  bool RegexIsValid(const std::string& pattern) {
    auto [it, inserted] = regex_valid_.emplace(pattern, true);
    if (inserted) {
      it->second = pattern.size() > 1000 ? RE2(pattern, RE2::Quiet).ok() : regex_parser_.Add(pattern, nullptr) >= 0;
    }
    return it->second;
  }

  void CheckRegex(const NameSelector& s, const Node& literal, const SourcePtr& src) {
    if (RegexIsValid(s.text)) {
      if (options_.lint && OnlyUnescapedDots(s.text)) ReportUnescapedDot(s);
      return;
    }
    RE2 re(s.text, RE2::Quiet);
    if (!re.ok()) {
      // Point at RE2's error argument inside the pattern.
      size_t pos = s.text.find(re.error_arg());
      if (re.error_arg().empty() || pos == std::string::npos) pos = 0;
      size_t lit_off = syntax::RegexSourceOffset(literal.string_view(), pos);
      uint32_t begin = syntax::BeginOffset(literal, *src) + static_cast<uint32_t>(lit_off);
      uint32_t len = static_cast<uint32_t>(std::max<size_t>(1, re.error_arg().size()));
      Report(DiagCode::kRegexSyntax, SourceRange{src, begin, begin + len},
             fmt::format("invalid regex: {}", re.error()));
      return;
    }
  }

  void ReportUnescapedDot(const NameSelector& s) {
    {
      std::string escaped;
      for (char c : s.text) {
        if (c == '.') escaped += '\\';
        escaped += c;
      }
      Diagnostic& d = Report(DiagCode::kUnescapedDot, s.where,
                             fmt::format("'.' in regex /{}/ matches any character", s.text));
      d.notes.push_back({DiagLocation::From(s.where),
                         fmt::format("write \"{}\" for the exact name, or /{}/ to keep a regex", s.text, escaped)});
    }
  }

  static bool OnlyUnescapedDots(std::string_view p) {
    bool dot = false;
    for (size_t i = 0; i < p.size(); ++i) {
      char c = p[i];
      if (c == '\\') return false;  // any escape: the author thought about metacharacters
      if (c == '.') dot = true;
      if (std::string_view("^$*+?()[]{}|").find(c) != std::string_view::npos) return false;
    }
    return dot;
  }

  void CheckTypeName(const std::string& type_name, const Node& at, const SourcePtr& src) {
    std::string_view last = type_name;
    if (auto dot = last.rfind('.'); dot != std::string_view::npos) last = last.substr(dot + 1);
    std::string_view fqn;
    for (const auto& [short_name, full] : kTorchModuleTypes) {
      if (short_name == last) fqn = full;
    }
    bool short_name = type_name.find('.') == std::string::npos;
    bool torch_alias = !fqn.empty() && type_name != fqn && type_name.rfind("torch.nn.", 0) == 0;
    if (!short_name && !torch_alias) return;
    Diagnostic& d = Report(DiagCode::kShortTypeName, src, at,
                           fmt::format("module type \"{}\" is not a fully-qualified class name; module "
                                       "types match type(module).__module__ + '.' + __qualname__ exactly, "
                                       "so this never matches",
                                       type_name));
    if (!fqn.empty()) d.suggestions.push_back(std::string(fqn));
  }

  std::optional<Expectation> BuildExpect(const Node& item, const SourcePtr& src) {
    const Node* ec = Child<g::expect_clause>(item);
    if (!ec) return std::nullopt;
    Expectation e;
    e.where = syntax::RangeOf(*ec, src);
    if (const Node* cmp = Child<g::comparison>(*ec)) {
      std::string_view op = cmp->string_view();
      e.op = op == ">=" ? Expectation::Op::kGe
             : op == "<=" ? Expectation::Op::kLe
             : op == ">"  ? Expectation::Op::kGt
             : op == "<"  ? Expectation::Op::kLt
                          : Expectation::Op::kEq;
    }
    const Node* count = Child<g::expect_count>(*ec);
    std::string_view t = count->string_view();
    auto [p, err] = std::from_chars(t.data(), t.data() + t.size(), e.count);
    if (err != std::errc() || p != t.data() + t.size()) {
      Report(DiagCode::kInvalidExpect, src, *count, "expect count is too large");
      return std::nullopt;
    }
    if (e.op == Expectation::Op::kLt && e.count == 0) {
      Report(DiagCode::kInvalidExpect, src, *ec, "'expect < 0' can never hold");
    }
    return e;
  }

  ModuleQuantizerConfig BuildModuleConfig(const Node& body, const SourcePtr& src, bool is_global) {
    ModuleQuantizerConfig m;
    std::map<std::string, const Node*> groups_seen;
    std::map<std::string, const Node*> types_seen;
    std::map<std::pair<bool, std::string>, const Node*> names_seen;
    const Node* schedule_seen = nullptr;
    for (const auto& item : body.children) {
      if (Is<g::tensor_group>(*item)) {
        const Node* gn = Child<g::group_name>(*item);
        std::string group(gn->string_view());
        if (!FirstOccurrence(groups_seen, group, *gn, src, [&] { return fmt::format("'{}' is given twice", group); }, "first given here")) {
          continue;
        }
        bool module_level = group.rfind("module_", 0) == 0;
        if (module_level && is_global) {
          Report(DiagCode::kGlobalModuleSpec, src, *gn,
                 fmt::format("'{}' is not allowed in 'global': module-level specs belong to "
                             "module_type and module_name scopes",
                             group));
          continue;
        }
        TensorSpecMap map = BuildTensorGroup(*item, src, group);
        if (group == "op_input") m.op_input = std::move(map);
        else if (group == "op_output") m.op_output = std::move(map);
        else if (group == "op_state") m.op_state = std::move(map);
        else if (group == "module_input") m.module_input = std::move(map);
        else if (group == "module_output") m.module_output = std::move(map);
        else m.module_state = std::move(map);
      } else if (Is<g::op_type_entry>(*item)) {
        OpTypeEntry e;
        const Node* tn = Child<g::op_type_name>(*item);
        e.op_type = std::string(tn->string_view());
        e.where = syntax::RangeOf(*item, src);
        e.expect = BuildExpect(*item, src);
        FirstOccurrence(types_seen, e.op_type, *tn, src,
                        [&] { return fmt::format("op_type {} is configured twice in this scope", e.op_type); }, "first configured here");
        if (options_.lint) CheckOpType(e.op_type, *tn, src);
        if (const Node* ob = Child<g::op_body>(*item)) e.config = BuildOpConfig(*ob, src, e.where);
        m.op_type.push_back(std::move(e));
      } else if (Is<g::op_name_entry>(*item)) {
        OpNameEntry e;
        e.selector = BuildSelector(*item, src);
        e.where = syntax::RangeOf(*item, src);
        e.expect = BuildExpect(*item, src);
        FirstOccurrence(names_seen, std::make_pair(e.selector.is_regex, e.selector.text), *item, e.selector.where, src,
                        [&] { return fmt::format("op_name {} is configured twice in this scope", e.selector.ToString()); },
                        "first configured here");
        if (const Node* ob = Child<g::op_body>(*item)) e.config = BuildOpConfig(*ob, src, e.where);
        m.op_name.push_back(std::move(e));
      } else if (Is<g::qat_schedule>(*item)) {
        if (schedule_seen) {
          Diagnostic& d = Report(DiagCode::kDuplicateEntry, src, *item, "'qat_schedule' is given twice");
          d.location.length = 12;
          continue;
        }
        schedule_seen = item.get();
        if (const Node* sb = Child<g::schedule_body>(*item)) m.qat_schedule = BuildSchedule(*sb, src);
      }
    }
    return m;
  }

  void CheckOpType(const std::string& op_type, const Node& at, const SourcePtr& src) {
    std::span<const std::string_view> keys = RegisteredPatternKeyOpTypes();
    if (std::find(keys.begin(), keys.end(), op_type) != keys.end()) return;
    Diagnostic& d = Report(DiagCode::kUnregisteredOpType, src, at,
                           fmt::format("op_type '{}' is not the key op of any registered pattern, so "
                                       "op-level specs never apply to it",
                                       op_type));
    d.suggestions = SuggestSimilar(op_type, keys);
    if (d.suggestions.empty()) {
      d.notes.push_back({DiagLocation::From(syntax::RangeOf(at, src)),
                         "its tensors can still be quantized through neighbouring ops or module_input/module_output"});
    }
  }

  OpQuantizerConfig BuildOpConfig(const Node& body, const SourcePtr& src, const SourceRange& where) {
    OpQuantizerConfig c;
    c.where = where;
    std::map<std::string, const Node*> seen;
    for (const auto& item : body.children) {
      if (!Is<g::tensor_group>(*item)) continue;
      const Node* gn = Child<g::group_name>(*item);
      std::string group(gn->string_view());
      if (!FirstOccurrence(seen, group, *gn, src, [&] { return fmt::format("'{}' is given twice", group); }, "first given here")) {
        continue;
      }
      if (group.rfind("module_", 0) == 0) {
        Report(DiagCode::kMisplacedGroup, src, *gn,
               fmt::format("'{}' is not allowed in an op entry: module-level specs belong to the "
                           "enclosing module_type or module_name scope",
                           group));
        continue;
      }
      TensorSpecMap map = BuildTensorGroup(*item, src, group);
      if (group == "op_input") c.op_input = std::move(map);
      else if (group == "op_output") c.op_output = std::move(map);
      else c.op_state = std::move(map);
    }
    return c;
  }

  TensorSpecMap BuildTensorGroup(const Node& group_node, const SourcePtr& src, const std::string& group) {
    TensorSpecMap map;
    const Node* tm = Child<g::tensor_map>(group_node);
    if (!tm) return map;  // `: none`
    bool state_map = group == "op_state" || group == "module_state";
    const Node* first_index = nullptr;
    const Node* first_name = nullptr;
    for (const auto& entry : tm->children) {
      if (!Is<g::map_entry>(*entry)) continue;
      const Node& key_node = *entry->children.front();
      TensorSpecEntry e;
      e.where = syntax::RangeOf(*entry, src);
      if (Is<g::all_key>(key_node)) {
        e.key = TensorKey::All();
      } else if (Is<g::key_index>(key_node)) {
        std::string_view t = key_node.string_view();
        int64_t v = 0;
        auto [p, err] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (err != std::errc()) {
          Report(DiagCode::kInvalidKey, src, key_node, "index is too large");
          continue;
        }
        if (state_map) {
          Report(DiagCode::kInvalidKey, src, key_node,
                 fmt::format("'{}' takes state names (such as weight) or '*', not indices", group));
          continue;
        }
        e.key = TensorKey::Index(v);
        if (!first_index) first_index = &key_node;
      } else {
        std::string name = Is<g::key_string>(key_node) ? syntax::StringValue(key_node.string_view())
                                                        : std::string(key_node.string_view());
        e.key = TensorKey::Name(std::move(name));
        if (!first_name) first_name = &key_node;
      }
      if (first_index && first_name &&
          (&key_node == first_index || &key_node == first_name)) {
        const Node* other = &key_node == first_index ? first_name : first_index;
        Diagnostic& d = Report(DiagCode::kMixedKeys, src, key_node,
                               fmt::format("'{}' mixes index and name keys; use one kind (with '*')", group));
        d.notes.push_back({DiagLocation::From(syntax::RangeOf(*other, src)), "the other kind of key is used here"});
      }
      if (const TensorSpecEntry* prev = map.Find(e.key)) {
        Diagnostic& d = Report(DiagCode::kDuplicateEntry, src, key_node,
                               fmt::format("key '{}' is given twice in '{}'", e.key.ToString(), group));
        d.notes.push_back({DiagLocation::From(prev->where), "first given here"});
        continue;
      }
      e.spec = BuildSpecRef(*entry->children.back(), src);
      map.entries.push_back(std::move(e));
    }
    return map;
  }

  std::optional<QuantizationSpec> BuildSpecRef(const Node& ref, const SourcePtr& src) {
    if (Is<g::none_ref>(ref)) return std::nullopt;
    QuantizationSpec spec;
    const Node* body = nullptr;
    if (Is<g::spec_body>(ref)) {
      body = &ref;
    } else {  // named_ref
      const Node* rn = Child<g::ref_name>(ref);
      std::string name(rn->string_view());
      if (const QuantizationSpec* s = LookupSpec(name, src, *rn)) spec = *s;
      body = Child<g::spec_body>(ref);
      if (!body) return spec;
    }
    ApplySpecBody(spec, *body, src);
    spec.name.clear();
    spec.where = syntax::RangeOf(ref, src);
    return spec;
  }

  QATSchedule BuildSchedule(const Node& body, const SourcePtr& src) {
    QATSchedule s;
    s.where = syntax::RangeOf(body, src);
    std::map<std::string, const Node*> seen;
    const Node* at_fq = &body;
    const Node* at_dis = &body;
    for (const auto& field : body.children) {
      if (!Is<g::field>(*field)) continue;
      const Node* fn = Child<g::field_name>(*field);
      std::string name(fn->string_view());
      const Node& value = *field->children.back();
      if (auto [it, inserted] = seen.emplace(name, fn); !inserted) {
        Report(DiagCode::kDuplicateEntry, src, *fn, fmt::format("field '{}' is set twice", name));
        continue;
      }
      if (std::find(std::begin(kScheduleFields), std::end(kScheduleFields), name) == std::end(kScheduleFields)) {
        Diagnostic& d = Report(DiagCode::kUnknownField, src, *fn,
                               fmt::format("unknown field '{}' in qat_schedule", name));
        d.suggestions = SuggestSimilar(name, kScheduleFields);
        continue;
      }
      if (name == "disable_observer" && Is<g::word>(value) && value.string_view() == "none") {
        s.disable_observer.reset();
        continue;
      }
      auto v = IntOf(value, src, name);
      if (!v) continue;
      if (*v < 0 || (name == "disable_observer" && *v == 0)) {
        Report(DiagCode::kInvalidSchedule, src, value,
               fmt::format("{} must be {}, got {}", name, name == "disable_observer" ? "> 0" : ">= 0", *v));
        continue;
      }
      if (name == "enable_observer") s.enable_observer = *v;
      if (name == "enable_fake_quant") { s.enable_fake_quant = *v; at_fq = &value; }
      if (name == "disable_observer") { s.disable_observer = *v; at_dis = &value; }
    }
    if (s.enable_fake_quant < s.enable_observer) {
      Report(DiagCode::kInvalidSchedule, src, *at_fq,
             fmt::format("enable_fake_quant ({}) must be >= enable_observer ({})", s.enable_fake_quant,
                         s.enable_observer));
    }
    if (s.disable_observer) {
      if (*s.disable_observer <= s.enable_observer) {
        Report(DiagCode::kInvalidSchedule, src, *at_dis,
               fmt::format("disable_observer ({}) must be > enable_observer ({})", *s.disable_observer,
                           s.enable_observer));
      } else if (*s.disable_observer < s.enable_fake_quant) {
        Report(DiagCode::kInvalidSchedule, src, *at_dis,
               fmt::format("disable_observer ({}) must be >= enable_fake_quant ({})", *s.disable_observer,
                           s.enable_fake_quant));
      }
    }
    return s;
  }

  // --- static lints -----------------------------------------------------------------------------
  void Lint(const QuantizerConfig& cfg) {
    // shadowed-entry: an earlier exact module name that a later entry claims entirely, either by
    // matching it or one of its ancestors (the later entry's config propagates down, §b.1).
    LintShadowedModuleNames(cfg.module_name);
    auto lint_ops = [&](const ModuleQuantizerConfig& m) { LintShadowedOpNames(m.op_name); };
    if (cfg.global) lint_ops(*cfg.global);
    for (const auto& e : cfg.module_type) lint_ops(e.config);
    for (const auto& e : cfg.module_name) lint_ops(e.config);
    // unused-spec, only for files that configure something: a specs-only library is all "unused".
    bool has_scopes = cfg.global || !cfg.module_type.empty() || !cfg.module_name.empty();
    if (has_scopes) {
      for (const auto& [name, decl] : specs_) {
        if (decl.used || decl.from_import) continue;
        Report(DiagCode::kUnusedSpec, decl.source, *Child<g::spec_name>(*decl.decl),
               fmt::format("spec '{}' is never used", name));
      }
    }
  }

  // Linear in the number of entries: exact names are looked up in a hash map of the latest entry
  // per name, regexes are matched together with one RE2::Set per ancestor name.
  void LintShadowedModuleNames(const std::vector<ModuleNameEntry>& entries) {
    std::unordered_map<std::string, size_t> last_exact;  // name -> index of its last exact entry
    std::vector<size_t> regex_index;                     // RE2::Set index -> entry index
    RE2::Set regexes(RE2::Quiet, RE2::ANCHOR_BOTH);
    last_exact.reserve(entries.size());
    for (size_t j = 0; j < entries.size(); ++j) {
      const NameSelector& s = entries[j].selector;
      if (!s.is_regex) {
        last_exact[s.text] = j;
      } else if (!last_exact.empty() && regexes.Add(s.text, nullptr) >= 0) {
        // (A regex before every exact name can shadow none of them: it stays out of the set.)
        regex_index.push_back(j);
      }
    }
    bool have_regexes = !regex_index.empty() && regexes.Compile();
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].selector.is_regex) continue;
      const std::string& name = entries[i].selector.text;
      // The first later entry (by file order) that claims `name` or one of its ancestors.
      size_t winner = entries.size();
      std::string prefix = name;
      while (true) {
        auto it = last_exact.find(prefix);
        if (it != last_exact.end() && it->second > i && !(prefix == name)) winner = std::min(winner, it->second);
        if (have_regexes) {
          std::vector<int> hits;
          regexes.Match(prefix, &hits);
          for (int h : hits) {
            if (regex_index[h] > i) winner = std::min(winner, regex_index[h]);
          }
        }
        if (prefix.empty()) break;
        auto dot = prefix.rfind('.');
        prefix = dot == std::string::npos ? "" : prefix.substr(0, dot);
      }
      if (winner == entries.size()) continue;
      const NameSelector& w = entries[winner].selector;
      Diagnostic& d = Report(DiagCode::kShadowedEntry, entries[i].selector.where,
                             fmt::format("module_name \"{}\" never takes effect: the later entry {} "
                                         "claims this module first (later entries win)",
                                         name, w.ToString()));
      d.notes.push_back({DiagLocation::From(w.where), "the overriding entry is here"});
      d.notes.push_back({DiagLocation::From(entries[i].selector.where),
                         "move the more specific entry after the general one"});
    }
  }

  void LintShadowedOpNames(const std::vector<OpNameEntry>& entries) {
    // Only a regex after an exact name can shadow it: the regexes before the first exact name are
    // left out of the set (no set at all when none is left).
    size_t first_exact = entries.size();
    for (size_t j = 0; j < entries.size() && first_exact == entries.size(); ++j) {
      if (!entries[j].selector.is_regex) first_exact = j;
    }
    std::vector<size_t> regex_index;
    RE2::Set regexes(RE2::Quiet, RE2::ANCHOR_BOTH);
    for (size_t j = first_exact + 1; j < entries.size(); ++j) {
      if (entries[j].selector.is_regex && regexes.Add(entries[j].selector.text, nullptr) >= 0) {
        regex_index.push_back(j);
      }
    }
    if (regex_index.empty() || !regexes.Compile()) return;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].selector.is_regex) continue;
      std::vector<int> hits;
      regexes.Match(entries[i].selector.text, &hits);
      size_t winner = entries.size();
      for (int h : hits) {
        if (regex_index[h] > i) winner = std::min(winner, regex_index[h]);
      }
      if (winner == entries.size()) continue;
      Diagnostic& d = Report(DiagCode::kShadowedEntry, entries[i].selector.where,
                             fmt::format("op_name \"{}\" never takes effect: the later entry {} also "
                                         "matches it (the last matching entry wins)",
                                         entries[i].selector.text, entries[winner].selector.ToString()));
      d.notes.push_back({DiagLocation::From(entries[winner].selector.where), "the overriding entry is here"});
    }
  }

  const CompileOptions& options_;
  std::vector<Diagnostic> diags_;
  std::vector<LoadedFile> files_;
  std::set<std::string> loaded_;
  int spec_depth_ = 0;  // inheritance levels being resolved (kMaxSpecDepth)
  std::map<std::string, SpecDecl, std::less<>> specs_;
  std::vector<std::pair<std::string, SourceRange>> import_chain_;
  RE2::Set regex_parser_{RE2::Quiet, RE2::UNANCHORED};
  std::unordered_map<std::string, bool> regex_valid_;
};

}  // namespace

bool ReadFile(const std::string& path, size_t max_bytes, std::string& text, std::string& error) {
  if (auto d = ReadFileBounded(path, max_bytes, text)) {
    constexpr std::string_view kPrefix = "cannot read file: ";
    error = d->message.starts_with(kPrefix) ? d->message.substr(kPrefix.size()) : d->message;
    return false;
  }
  return true;
}

CompileResult Compile(std::shared_ptr<const Source> source, const CompileOptions& options) {
  if (source->text().size() > options.max_file_bytes) {
    CompileResult r;
    r.diagnostics.push_back(MakeDiagnostic(
        DiagCode::kIoError, DiagLocation{source->name(), 0, 0, 1, {}},
        fmt::format("file is larger than the limit of {} bytes", options.max_file_bytes)));
    return r;
  }
  return Compiler(options).Run(std::move(source));
}

CompileResult CompileFile(const std::string& path, const CompileOptions& options) {
  std::string text, error;
  if (!ReadFile(path, options.max_file_bytes, text, error)) {
    CompileResult r;
    r.diagnostics.push_back(MakeDiagnostic(DiagCode::kIoError, DiagLocation{path, 0, 0, 1, {}},
                                           fmt::format("cannot read file: {}", error)));
    return r;
  }
  return Compile(std::make_shared<const Source>(path, std::move(text)), options);
}

}  // namespace qrules
