// ONNX (protobuf) → IR.  Every field read from the file is validated before use: the input may be
// truncated, random or hostile.  Nothing here throws across the API.
#include "qrules/onnx_import.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "ir/constant_fold.h"
#include "ir/ir_internal.h"

namespace qrules {
namespace {

using onnx::TensorProto;

constexpr int64_t kMaxElements = int64_t{1} << 40;

struct DtypeInfo {
  std::optional<ElementType> type;
  std::string name;
  size_t bytes = 0;  // element size in raw_data; 0 = no data conversion supported
};

DtypeInfo OnnxDtype(int32_t t) {
  switch (t) {
    case TensorProto::FLOAT: return {ElementType::kFloat32, "float32", 4};
    case TensorProto::INT64: return {ElementType::kInt64, "int64", 8};
    case TensorProto::INT32: return {ElementType::kInt32, "int32", 4};
    case TensorProto::INT8: return {ElementType::kInt8, "int8", 1};
    case TensorProto::UINT8: return {ElementType::kUint8, "uint8", 1};
    case TensorProto::BOOL: return {ElementType::kBool, "bool", 1};
    case TensorProto::FLOAT16: return {std::nullopt, "float16", 2};
    case TensorProto::BFLOAT16: return {std::nullopt, "bfloat16", 2};
    case TensorProto::DOUBLE: return {std::nullopt, "float64", 8};
    case TensorProto::INT16: return {std::nullopt, "int16", 2};
    case TensorProto::UINT16: return {std::nullopt, "uint16", 2};
    case TensorProto::UINT32: return {std::nullopt, "uint32", 4};
    case TensorProto::UINT64: return {std::nullopt, "uint64", 8};
    case TensorProto::STRING: return {std::nullopt, "string", 0};
    case TensorProto::COMPLEX64: return {std::nullopt, "complex64", 0};
    case TensorProto::COMPLEX128: return {std::nullopt, "complex128", 0};
    default: return {std::nullopt, "unknown", 0};
  }
}


float Bfloat16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

template <typename T>
T ReadLE(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // x86-64 / aarch64 are little-endian, as ONNX raw_data is
  return v;
}

class Importer {
 public:
  Importer(std::string_view name, const ImportOptions& options) : name_(name), options_(options) {}

  ImportResult Run(std::string_view bytes);

 private:
  void Error(std::string message, DiagCode code = DiagCode::kModelInvalid) {
    DiagLocation loc;
    loc.file = name_;
    diagnostics_.push_back(MakeDiagnostic(code, loc, std::move(message)));
  }
  bool LoadModuleMap();
  std::optional<Tensor> ConvertTensor(const TensorProto& t, const std::string& what);
  void ReadValueInfo(const onnx::ValueInfoProto& vi);
  TensorSpec SpecFor(const std::string& name) const;
  std::string ModuleOf(const onnx::NodeProto& node, const std::string& op_name);
  void MapOp(const onnx::NodeProto& node, OpSpec* op);
  bool CheckModuleMapAgainst(const onnx::GraphProto& graph, const std::unordered_set<int>& constant_nodes);
  void ReportDuplicateNodeNames(const onnx::GraphProto& graph);
  bool FoldWeightChains(const onnx::GraphProto& graph, std::vector<TensorSpec>& states,
                        std::unordered_set<int>& folded_nodes, std::unordered_set<std::string>& dropped);
  std::optional<Attribute> ConvertAttribute(const onnx::AttributeProto& a, const std::string& node);

  std::string name_;
  ImportOptions options_;
  std::vector<Diagnostic> diagnostics_;
  ModelBuilder builder_;
  // Module map.
  bool have_map_modules_ = false;
  std::vector<std::pair<std::string, std::string>> map_modules_;
  std::unordered_set<std::string> map_module_set_;
  std::unordered_map<std::string, std::string> map_nodes_;
  // Types of values: name → (dtype, shape).
  struct ValueType {
    DtypeInfo dtype;
    Shape shape;
  };
  std::unordered_map<std::string, ValueType> value_types_;
  std::unordered_set<std::string> state_names_;
  std::unordered_map<std::string, std::vector<int64_t>> state_shapes_;
  size_t data_bytes_ = 0;
};

bool Importer::LoadModuleMap() {
  std::string text;
  std::string map_name = options_.module_map_path;
  if (!options_.module_map_path.empty()) {
    if (auto d = ReadFileBounded(options_.module_map_path, size_t{64} << 20, text)) {
      diagnostics_.push_back(std::move(*d));
      return false;
    }
  } else if (options_.module_map_json) {
    text = *options_.module_map_json;
    map_name = "<module map>";
  } else {
    return true;
  }
  auto fail = [&](std::string message) {
    DiagLocation loc;
    loc.file = map_name;
    diagnostics_.push_back(MakeDiagnostic(DiagCode::kModuleMapInvalid, loc, std::move(message)));
    return false;
  };
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  } catch (const nlohmann::ordered_json::exception& e) {  // 1e999 throws even so
    return fail(fmt::format("the module map is not valid JSON: {}", e.what()));
  }
  if (j.is_discarded()) return fail("the module map is not valid JSON");
  if (!j.is_object()) return fail("the module map must be a JSON object with keys \"modules\" and \"nodes\"");
  for (const auto& [key, value] : j.items()) {
    if (key != "modules" && key != "nodes") {
      return fail(fmt::format("unknown key \"{}\" in the module map (expected \"modules\" and \"nodes\")", key));
    }
    if (!value.is_object()) return fail(fmt::format("\"{}\" must be an object of strings", key));
    for (const auto& [k, v] : value.items()) {
      if (!v.is_string()) {
        return fail(fmt::format("\"{}\" entry \"{}\" must map to a string, not {}", key, k, v.type_name()));
      }
    }
  }
  if (j.contains("modules")) {
    have_map_modules_ = true;
    for (const auto& [fqn, type] : j["modules"].items()) {
      if (!internal::IsModuleName(fqn)) return fail(fmt::format("\"{}\" is not a module name", fqn));
      map_modules_.emplace_back(fqn, type.get<std::string>());
      map_module_set_.insert(fqn);
    }
  }
  if (j.contains("nodes")) {
    for (const auto& [node, fqn] : j["nodes"].items()) {
      std::string m = fqn.get<std::string>();
      if (!internal::IsModuleName(m)) {
        return fail(fmt::format("node \"{}\" is attributed to \"{}\", not a module name", node, m));
      }
      if (have_map_modules_ && !map_module_set_.count(m)) {
        return fail(fmt::format("node \"{}\" is attributed to module \"{}\", which \"modules\" does not list", node, m));
      }
      map_nodes_[node] = m;
    }
  }
  return true;
}

std::optional<Tensor> Importer::ConvertTensor(const TensorProto& t, const std::string& what) {
  if (t.data_location() == TensorProto::EXTERNAL || t.external_data_size() > 0) {
    Error(fmt::format("{} '{}' keeps its data in an external file, which qrules does not read; re-export the "
                      "model with the data embedded",
                      what, t.name()));
    return std::nullopt;
  }
  if (t.has_segment()) {
    Error(fmt::format("{} '{}' is segmented, which qrules does not support", what, t.name()));
    return std::nullopt;
  }
  DtypeInfo dt = OnnxDtype(t.data_type());
  if (dt.bytes == 0) {
    Error(fmt::format("{} '{}' has data type {} ({}), which qrules does not support", what, t.name(), dt.name,
                      t.data_type()));
    return std::nullopt;
  }
  Tensor out;
  out.type = dt.type.value_or(ElementType::kFloat32);
  if (!dt.type && (dt.name == "int16" || dt.name == "uint16" || dt.name == "uint32" || dt.name == "uint64")) {
    out.type = ElementType::kInt64;
  }
  int64_t numel = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || d > kMaxElements || (d > 0 && numel > kMaxElements / d)) {
      Error(fmt::format("{} '{}' has an invalid shape (dimension {})", what, t.name(), d));
      return std::nullopt;
    }
    numel *= d;
    out.shape.push_back(d);
  }
  size_t n = static_cast<size_t>(numel);
  auto count_error = [&](size_t have) {
    Error(fmt::format("{} '{}' has shape {} ({} elements) but {} values of data", what, t.name(),
                      Shape::Of(out.shape).ToString(), numel, have));
    return std::nullopt;
  };
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (raw.size() / dt.bytes != n || raw.size() % dt.bytes != 0) return count_error(raw.size() / dt.bytes);
    data_bytes_ += raw.size();
    const char* p = raw.data();
    if (out.type == ElementType::kFloat32) out.f32.resize(n);
    else out.i64.resize(n);
    for (size_t i = 0; i < n; ++i, p += dt.bytes) {
      switch (t.data_type()) {
        case TensorProto::FLOAT: out.f32[i] = ReadLE<float>(p); break;
        case TensorProto::DOUBLE: out.f32[i] = static_cast<float>(ReadLE<double>(p)); break;
        case TensorProto::FLOAT16: out.f32[i] = internal::HalfToFloat(ReadLE<uint16_t>(p)); break;
        case TensorProto::BFLOAT16: out.f32[i] = Bfloat16ToFloat(ReadLE<uint16_t>(p)); break;
        case TensorProto::INT64: out.i64[i] = ReadLE<int64_t>(p); break;
        case TensorProto::INT32: out.i64[i] = ReadLE<int32_t>(p); break;
        case TensorProto::INT16: out.i64[i] = ReadLE<int16_t>(p); break;
        case TensorProto::INT8: out.i64[i] = ReadLE<int8_t>(p); break;
        case TensorProto::UINT8: out.i64[i] = ReadLE<uint8_t>(p); break;
        case TensorProto::UINT16: out.i64[i] = ReadLE<uint16_t>(p); break;
        case TensorProto::UINT32: out.i64[i] = ReadLE<uint32_t>(p); break;
        case TensorProto::UINT64: out.i64[i] = static_cast<int64_t>(ReadLE<uint64_t>(p)); break;
        case TensorProto::BOOL: out.i64[i] = *p != 0; break;
        default: break;
      }
    }
  } else {
    switch (t.data_type()) {
      case TensorProto::FLOAT:
        if (static_cast<size_t>(t.float_data_size()) != n) return count_error(t.float_data_size());
        out.f32.assign(t.float_data().begin(), t.float_data().end());
        break;
      case TensorProto::DOUBLE:
        if (static_cast<size_t>(t.double_data_size()) != n) return count_error(t.double_data_size());
        for (double v : t.double_data()) out.f32.push_back(static_cast<float>(v));
        break;
      case TensorProto::FLOAT16:
      case TensorProto::BFLOAT16:
        if (static_cast<size_t>(t.int32_data_size()) != n) return count_error(t.int32_data_size());
        for (int32_t v : t.int32_data()) {
          auto bits = static_cast<uint16_t>(v);
          out.f32.push_back(t.data_type() == TensorProto::FLOAT16 ? internal::HalfToFloat(bits) : Bfloat16ToFloat(bits));
        }
        break;
      case TensorProto::INT64:
        if (static_cast<size_t>(t.int64_data_size()) != n) return count_error(t.int64_data_size());
        out.i64.assign(t.int64_data().begin(), t.int64_data().end());
        break;
      case TensorProto::UINT32:
      case TensorProto::UINT64:
        if (static_cast<size_t>(t.uint64_data_size()) != n) return count_error(t.uint64_data_size());
        for (uint64_t v : t.uint64_data()) out.i64.push_back(static_cast<int64_t>(v));
        break;
      default:  // int32, int16, int8, uint8, uint16, bool
        if (static_cast<size_t>(t.int32_data_size()) != n) return count_error(t.int32_data_size());
        for (int32_t v : t.int32_data()) out.i64.push_back(t.data_type() == TensorProto::BOOL ? v != 0 : v);
        break;
    }
    data_bytes_ += n * dt.bytes;
  }
  if (data_bytes_ > options_.max_data_bytes) {
    Error(fmt::format("the model's tensor data exceeds the limit of {} bytes", options_.max_data_bytes));
    return std::nullopt;
  }
  return out;
}

void Importer::ReadValueInfo(const onnx::ValueInfoProto& vi) {
  if (vi.name().empty() || !vi.has_type() || !vi.type().has_tensor_type()) return;
  const auto& tt = vi.type().tensor_type();
  ValueType v;
  v.dtype = OnnxDtype(tt.elem_type());
  if (tt.has_shape()) {
    v.shape.known = true;
    for (const auto& d : tt.shape().dim()) {
      Dim dim;
      if (d.has_dim_value() && d.dim_value() >= 0) {
        dim.size = d.dim_value();
      } else if (d.has_dim_param()) {
        dim.symbol = d.dim_param();
      }
      v.shape.dims.push_back(std::move(dim));
    }
  }
  auto it = value_types_.find(vi.name());
  if (it == value_types_.end()) {
    value_types_.emplace(vi.name(), std::move(v));
  } else if (!it->second.shape.known && v.shape.known) {
    it->second = std::move(v);
  }
}

TensorSpec Importer::SpecFor(const std::string& name) const {
  TensorSpec spec;
  spec.name = name;
  auto it = value_types_.find(name);
  if (it == value_types_.end()) {
    spec.dtype = std::nullopt;
    spec.dtype_name = "unknown";
    return spec;
  }
  spec.dtype = it->second.dtype.type;
  spec.dtype_name = it->second.dtype.name;
  spec.shape = it->second.shape;
  return spec;
}

// "/layer1/layer1.0/conv1/Conv" → "layer1.0.conv1"; "Gemm_3" → "".
std::string ScopeModule(const std::string& node_name) {
  if (node_name.empty() || node_name[0] != '/') return "";
  std::vector<std::string> parts;
  size_t start = 1;
  while (true) {
    size_t slash = node_name.find('/', start);
    if (slash == std::string::npos) break;  // the last component names the node itself
    parts.push_back(node_name.substr(start, slash - start));
    start = slash + 1;
  }
  std::string fqn;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!fqn.empty() && p.size() > fqn.size() && p.compare(0, fqn.size() + 1, fqn + ".") == 0) {
      fqn = p;
    } else {
      fqn = fqn.empty() ? p : fqn + "." + p;
    }
  }
  if (fqn.empty()) return fqn;
  if (fqn.front() == '.' || fqn.back() == '.' || fqn.find("..") != std::string::npos) return "";
  return fqn;
}

std::string Importer::ModuleOf(const onnx::NodeProto& node, const std::string& op_name) {
  if (auto it = map_nodes_.find(node.name()); it != map_nodes_.end()) return it->second;
  if (auto it = map_nodes_.find(op_name); it != map_nodes_.end()) return it->second;
  std::string fqn = ScopeModule(node.name());
  if (!have_map_modules_) return fqn;
  // With a module list, use the innermost listed module enclosing the scope.
  while (!fqn.empty() && !map_module_set_.count(fqn)) {
    size_t dot = fqn.rfind('.');
    fqn = dot == std::string::npos ? std::string() : fqn.substr(0, dot);
  }
  return fqn;
}

std::optional<Attribute> Importer::ConvertAttribute(const onnx::AttributeProto& a, const std::string& node) {
  using A = onnx::AttributeProto;
  switch (a.type()) {
    case A::INT: return Attribute::Int(a.i());
    case A::FLOAT: return Attribute::Float(a.f());
    case A::STRING: return Attribute::String(a.s());
    case A::INTS: return Attribute::Ints({a.ints().begin(), a.ints().end()});
    case A::FLOATS: return Attribute::Floats({a.floats().begin(), a.floats().end()});
    case A::STRINGS: return Attribute::Strings({a.strings().begin(), a.strings().end()});
    case A::TENSOR: {
      auto t = ConvertTensor(a.t(), fmt::format("attribute '{}' of node '{}'", a.name(), node));
      if (!t) return std::nullopt;
      return Attribute::OfTensor(std::move(*t));
    }
    default: return std::nullopt;  // graphs, sparse tensors, type protos: not kept
  }
}

int64_t IntAttr(const OpSpec& op, std::string_view name, int64_t fallback) {
  auto it = op.attributes.find(name);
  return it != op.attributes.end() && it->second.kind == Attribute::Kind::kInt ? it->second.i : fallback;
}
float FloatAttr(const OpSpec& op, std::string_view name, float fallback) {
  auto it = op.attributes.find(name);
  return it != op.attributes.end() && it->second.kind == Attribute::Kind::kFloat ? it->second.f : fallback;
}
size_t IntsAttrSize(const OpSpec& op, std::string_view name) {
  auto it = op.attributes.find(name);
  return it != op.attributes.end() && it->second.kind == Attribute::Kind::kInts ? it->second.ints.size() : 0;
}

void Importer::MapOp(const onnx::NodeProto& node, OpSpec* op) {
  const std::string& t = node.op_type();
  op->type = t;
  if (!node.domain().empty() && node.domain() != "ai.onnx") return;
  auto input = [&](int i) -> std::string { return i >= 0 && i < node.input_size() ? node.input(i) : std::string(); };
  auto is_state = [&](int i) { return state_names_.count(input(i)) > 0; };
  // Spatial rank: from kernel_shape, else from the weight's / input's known shape.
  auto spatial_rank = [&](int weight_index) -> size_t {
    if (size_t k = IntsAttrSize(*op, "kernel_shape")) return k;
    if (auto it = state_shapes_.find(input(weight_index)); it != state_shapes_.end() && it->second.size() > 2) {
      return it->second.size() - 2;
    }
    if (auto it = value_types_.find(input(0)); it != value_types_.end() && it->second.shape.known &&
                                               it->second.shape.rank() > 2) {
      return it->second.shape.rank() - 2;
    }
    return 2;
  };
  auto nd = [](std::string_view base, size_t rank) {
    return fmt::format("{}{}d", base, std::clamp<size_t>(rank, 1, 3));
  };
  if (t == "Conv") {
    op->type = nd("conv", spatial_rank(1));
  } else if (t == "ConvTranspose") {
    op->type = nd("conv_transpose", spatial_rank(1));
  } else if (t == "MaxPool") {
    op->type = nd("max_pool", spatial_rank(-1));
  } else if (t == "AveragePool") {
    op->type = nd("avg_pool", spatial_rank(-1));
  } else if (t == "GlobalAveragePool") {
    op->type = nd("adaptive_avg_pool", spatial_rank(-1));
  } else if (t == "Gemm") {
    bool plain = IntAttr(*op, "transA", 0) == 0 && FloatAttr(*op, "alpha", 1.0f) == 1.0f &&
                 FloatAttr(*op, "beta", 1.0f) == 1.0f;
    if (plain && is_state(1)) {
      op->type = "linear";
      bool trans_b = IntAttr(*op, "transB", 0) != 0;
      op->weight_output_axis = trans_b ? 0 : 1;
      op->weight_input_axis = trans_b ? 1 : 0;
    }
  } else if (t == "MatMul") {
    auto it = state_shapes_.find(input(1));
    if (is_state(1) && !is_state(0) && it != state_shapes_.end() && it->second.size() == 2) {
      op->type = "linear";  // weight stored [in, out]
      op->weight_output_axis = 1;
      op->weight_input_axis = 0;
    } else {
      op->type = "matmul";
    }
  } else if (t == "Gather") {
    op->type = is_state(0) && !is_state(1) && IntAttr(*op, "axis", 0) == 0 ? "embedding" : "gather";
  } else if (const OpTypeInfo* row = FindOnnxOp(t)) {
    op->type = row->type;  // the op table's first row for this ONNX op
  }
}

// A module map must be the map of this export: every node it names exists, and together with the
// exporter's scoped node names it attributes at least half of the model's nodes to modules.  A
// map of another export would otherwise silently leave every op in the root module, where
// module rules never reach it.
bool Importer::CheckModuleMapAgainst(const onnx::GraphProto& graph, const std::unordered_set<int>& constant_nodes) {
  if (options_.module_map_path.empty() && !options_.module_map_json) return true;
  const std::string map_name = options_.module_map_path.empty() ? "<module map>" : options_.module_map_path;
  auto fail = [&](std::string message) {
    DiagLocation loc;
    loc.file = map_name;
    diagnostics_.push_back(MakeDiagnostic(DiagCode::kModuleMapInvalid, loc, std::move(message)));
    return false;
  };
  auto examples = [](const std::vector<std::string>& names) {
    std::vector<std::string> quoted;
    for (size_t i = 0; i < names.size() && i < 3; ++i) quoted.push_back("'" + names[i] + "'");
    return fmt::format("{}{}", fmt::join(quoted, ", "), names.size() > 3 ? ", ..." : "");
  };
  std::unordered_set<std::string> node_names;
  for (const auto& node : graph.node()) node_names.insert(node.name());
  std::vector<std::string> unknown;
  for (const auto& [node, fqn] : map_nodes_) {
    if (!node_names.count(node)) unknown.push_back(node);
  }
  std::sort(unknown.begin(), unknown.end());
  if (!unknown.empty()) {
    return fail(fmt::format("the module map names {} of its {} nodes that model '{}' does not have ({}): is it the map "
                            "of another export?",
                            unknown.size(), map_nodes_.size(), name_, examples(unknown)));
  }
  if (!have_map_modules_) return true;
  size_t nodes = 0;
  std::vector<std::string> unattributed;
  for (int i = 0; i < graph.node_size(); ++i) {
    if (constant_nodes.count(i)) continue;
    const onnx::NodeProto& node = graph.node(i);
    ++nodes;
    const bool mapped = map_nodes_.count(node.name()) > 0;
    if (!mapped && ModuleOf(node, node.name()).empty()) unattributed.push_back(node.name().empty() ? "(unnamed)" : node.name());
  }
  if (nodes > 0 && 2 * unattributed.size() > nodes) {
    return fail(fmt::format("the module map attributes only {} of the {} nodes of model '{}' to a module; {} are left "
                            "in no module ({}): is it the map of another export?",
                            nodes - unattributed.size(), nodes, name_, unattributed.size(), examples(unattributed)));
  }
  return true;
}

// Node names are how op_name rules and `explain --op` find an op; two nodes with one name make
// both ambiguous (the importer renames the later ones, which the user never wrote).
void Importer::ReportDuplicateNodeNames(const onnx::GraphProto& graph) {
  std::unordered_map<std::string, int> count;
  std::vector<std::string> order;
  for (const auto& node : graph.node()) {
    if (!node.name().empty() && count[node.name()]++ == 1) order.push_back(node.name());
  }
  for (const std::string& n : order) {
    DiagLocation loc;
    loc.file = name_;
    diagnostics_.push_back(MakeDiagnostic(
        DiagCode::kDuplicateNodeName, loc,
        fmt::format("{} nodes are named '{}': op_name rules and explain --op see them as '{}', '{}_0', ...",
                    count[n], n, n, n)));
  }
}

// Constant chains into states (ir/constant_fold.h).  Nodes are in topological order in a valid
// ONNX graph, so one pass folds every chain; a few more passes cover files that are not sorted,
// bounded so that a hostile order cannot make this quadratic.  A state that only fed folded nodes
// is dropped (the folded value replaces it); one that something else reads, or that the graph
// returns, stays.
bool Importer::FoldWeightChains(const onnx::GraphProto& graph, std::vector<TensorSpec>& states,
                                std::unordered_set<int>& folded_nodes, std::unordered_set<std::string>& dropped) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < states.size(); ++i) index.emplace(states[i].name, i);
  std::unordered_set<int> folded_here;
  constexpr int kMaxPasses = 8;
  bool changed = true;
  for (int pass = 0; changed && pass < kMaxPasses; ++pass) {
    changed = false;
    for (int i = 0; i < graph.node_size(); ++i) {
      const onnx::NodeProto& node = graph.node(i);
      if (folded_nodes.count(i) || !(node.domain().empty() || node.domain() == "ai.onnx") ||
          !internal::IsWeightChainOp(node.op_type()) || node.output_size() != 1 || node.output(0).empty() ||
          node.input_size() == 0 || index.count(node.output(0))) {
        continue;
      }
      std::vector<const Tensor*> inputs;
      bool constant = true;
      for (const std::string& in : node.input()) {
        if (in.empty()) {
          inputs.push_back(nullptr);
          continue;
        }
        auto it = index.find(in);
        if (it == index.end() || !states[it->second].data) {
          constant = false;
          break;
        }
        inputs.push_back(&*states[it->second].data);
      }
      if (!constant) continue;
      AttributeMap attrs;
      for (const auto& a : node.attribute()) {
        if (auto v = ConvertAttribute(a, node.name())) attrs.insert_or_assign(a.name(), std::move(*v));
      }
      if (HasErrors(diagnostics_)) return false;
      std::optional<Tensor> value = internal::FoldConstantOp(node.op_type(), attrs, inputs);
      if (!value) continue;
      TensorSpec spec;
      spec.name = node.output(0);
      spec.dtype = value->type;
      spec.dtype_name = std::string(ElementTypeName(value->type));
      spec.shape = Shape::Of(value->shape);
      state_names_.insert(spec.name);
      state_shapes_[spec.name] = value->shape;
      spec.data = std::move(*value);
      index.emplace(spec.name, states.size());
      states.push_back(std::move(spec));
      folded_nodes.insert(i);
      folded_here.insert(i);
      changed = true;
    }
  }
  if (folded_here.empty()) return true;
  // Which states are still read: by a node that stays, or as a graph output.
  std::unordered_set<std::string> read;
  for (int i = 0; i < graph.node_size(); ++i) {
    if (folded_nodes.count(i)) continue;
    for (const std::string& in : graph.node(i).input()) read.insert(in);
  }
  for (const auto& out : graph.output()) read.insert(out.name());
  for (int i : folded_here) {
    for (const std::string& in : graph.node(i).input()) {
      if (!in.empty() && !read.count(in)) dropped.insert(in);
    }
  }
  for (const std::string& name : dropped) {
    state_names_.erase(name);
    state_shapes_.erase(name);
  }
  return true;
}

ImportResult Importer::Run(std::string_view bytes) {
  builder_.SetName(name_);
  if (!LoadModuleMap()) return {nullptr, std::move(diagnostics_)};
  if (bytes.empty()) {
    Error("the file is empty; expected an ONNX model");
    return {nullptr, std::move(diagnostics_)};
  }
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    Error("the file is larger than 2 GiB, the protobuf limit; models with external data are not supported");
    return {nullptr, std::move(diagnostics_)};
  }
  onnx::ModelProto proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    Error("the file is not a valid ONNX model: the protobuf data is malformed or truncated");
    return {nullptr, std::move(diagnostics_)};
  }
  if (!proto.has_graph() || proto.graph().node_size() == 0) {
    Error("the file does not contain an ONNX graph with nodes (is it an ONNX model?)");
    return {nullptr, std::move(diagnostics_)};
  }
  const onnx::GraphProto& graph = proto.graph();

  // Pre-validation: unique value names, defined inputs, acyclic.  Only then is the graph handed to
  // ONNX's own shape inference.
  std::unordered_map<std::string, int> producer;  // value → node index, -1 for inputs/initializers
  for (const auto& init : graph.initializer()) {
    if (init.name().empty()) {
      Error("an initializer has no name");
      return {nullptr, std::move(diagnostics_)};
    }
    if (!producer.emplace(init.name(), -1).second) {
      Error(fmt::format("initializer '{}' is defined twice", init.name()));
      return {nullptr, std::move(diagnostics_)};
    }
  }
  for (const auto& in : graph.input()) producer.emplace(in.name(), -1);
  bool structurally_sound = true;
  for (int i = 0; i < graph.node_size(); ++i) {
    for (const std::string& out : graph.node(i).output()) {
      if (out.empty()) continue;
      if (!producer.emplace(out, i).second) {
        Error(fmt::format("value '{}' is produced twice (node '{}')", out, graph.node(i).name()));
        return {nullptr, std::move(diagnostics_)};
      }
    }
  }
  {
    std::vector<int> indegree(static_cast<size_t>(graph.node_size()), 0);
    std::vector<std::vector<int>> users(static_cast<size_t>(graph.node_size()));
    for (int i = 0; i < graph.node_size(); ++i) {
      std::unordered_set<int> preds;
      for (const std::string& in : graph.node(i).input()) {
        if (in.empty()) continue;
        auto it = producer.find(in);
        if (it == producer.end()) {
          structurally_sound = false;  // reported by the builder, with the node's name
        } else if (it->second >= 0) {
          preds.insert(it->second);
        }
      }
      for (int p : preds) {
        users[static_cast<size_t>(p)].push_back(i);
        ++indegree[static_cast<size_t>(i)];
      }
    }
    std::queue<int> ready;
    for (int i = 0; i < graph.node_size(); ++i) {
      if (indegree[static_cast<size_t>(i)] == 0) ready.push(i);
    }
    int seen = 0;
    while (!ready.empty()) {
      int i = ready.front();
      ready.pop();
      ++seen;
      for (int u : users[static_cast<size_t>(i)]) {
        if (--indegree[static_cast<size_t>(u)] == 0) ready.push(u);
      }
    }
    if (seen != graph.node_size()) structurally_sound = false;
  }
  if (structurally_sound && options_.infer_shapes) {
    for (const auto& init : graph.initializer()) {
      if (init.data_location() == TensorProto::EXTERNAL) structurally_sound = false;
    }
  }
  if (structurally_sound && options_.infer_shapes) {
    try {
      onnx::checker::check_model(proto);
      onnx::ShapeInferenceOptions opts(/*check_type=*/false, /*strict_mode=*/0, /*data_prop=*/false);
      onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(), opts);
    } catch (...) {
      // Shapes stay as declared in the file; the import itself does not depend on inference.
    }
  }

  for (const auto& vi : graph.input()) ReadValueInfo(vi);
  for (const auto& vi : graph.output()) ReadValueInfo(vi);
  for (const auto& vi : graph.value_info()) ReadValueInfo(vi);

  // Modules from the map, in named_modules() order.
  for (const auto& [fqn, type] : map_modules_) builder_.AddModule(fqn, type);

  // States: initializers, Constant nodes and the constant chains folded from them.
  std::vector<TensorSpec> states;
  for (const auto& init : graph.initializer()) {
    auto data = ConvertTensor(init, "initializer");
    if (!data) return {nullptr, std::move(diagnostics_)};
    DtypeInfo dt = OnnxDtype(init.data_type());
    TensorSpec spec;
    spec.name = init.name();
    spec.dtype = dt.type;
    spec.dtype_name = dt.name;
    spec.shape = Shape::Of(data->shape);
    state_names_.insert(spec.name);
    state_shapes_[spec.name] = data->shape;
    spec.data = std::move(*data);
    states.push_back(std::move(spec));
  }
  std::unordered_set<int> constant_nodes;
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    if (node.op_type() != "Constant" || !(node.domain().empty() || node.domain() == "ai.onnx")) continue;
    if (node.output_size() != 1 || node.output(0).empty() || node.attribute_size() != 1) {
      Error(fmt::format("Constant node '{}' must have one output and one value attribute", node.name()));
      return {nullptr, std::move(diagnostics_)};
    }
    const onnx::AttributeProto& a = node.attribute(0);
    Tensor value;
    if (a.name() == "value" && a.has_t()) {
      auto t = ConvertTensor(a.t(), fmt::format("Constant node '{}'", node.name()));
      if (!t) return {nullptr, std::move(diagnostics_)};
      value = std::move(*t);
      if (!OnnxDtype(a.t().data_type()).type) {
        // float16/float64 constants: data was converted to float32 above.
      }
    } else if (a.name() == "value_float") {
      value = Tensor::Float({}, {a.f()});
    } else if (a.name() == "value_floats") {
      value = Tensor::Float({a.floats_size()}, {a.floats().begin(), a.floats().end()});
    } else if (a.name() == "value_int") {
      value = Tensor::Int64({}, {a.i()});
    } else if (a.name() == "value_ints") {
      value = Tensor::Int64({a.ints_size()}, {a.ints().begin(), a.ints().end()});
    } else {
      Error(fmt::format("Constant node '{}' has a '{}' value, which qrules does not support", node.name(), a.name()));
      return {nullptr, std::move(diagnostics_)};
    }
    TensorSpec spec;
    spec.name = node.output(0);
    DtypeInfo dt = a.name() == "value" ? OnnxDtype(a.t().data_type())
                   : value.is_float()  ? OnnxDtype(TensorProto::FLOAT)
                                       : OnnxDtype(TensorProto::INT64);
    spec.dtype = dt.type;
    spec.dtype_name = dt.name;
    spec.shape = Shape::Of(value.shape);
    if (value.type != ElementType::kFloat32 && dt.type && *dt.type != value.type) value.type = *dt.type;
    state_names_.insert(spec.name);
    state_shapes_[spec.name] = value.shape;
    spec.data = std::move(value);
    states.push_back(std::move(spec));
    constant_nodes.insert(i);
  }
  std::unordered_set<std::string> dropped_states;
  if (!FoldWeightChains(graph, states, constant_nodes, dropped_states)) return {nullptr, std::move(diagnostics_)};
  for (TensorSpec& spec : states) {
    if (!dropped_states.count(spec.name)) builder_.AddState(std::move(spec));
  }

  // Graph inputs (those that are not initializers).
  for (const auto& in : graph.input()) {
    if (state_names_.count(in.name()) || dropped_states.count(in.name())) continue;
    if (in.name().empty()) {
      Error("a graph input has no name");
      return {nullptr, std::move(diagnostics_)};
    }
    builder_.AddInput(SpecFor(in.name()));
  }

  // Ops.
  std::unordered_set<std::string> used_names;
  for (int i = 0; i < graph.node_size(); ++i) used_names.insert(graph.node(i).name());
  std::unordered_set<std::string> op_names;
  std::unordered_map<std::string, int> counters;
  for (int i = 0; i < graph.node_size(); ++i) {
    if (constant_nodes.count(i)) continue;
    const onnx::NodeProto& node = graph.node(i);
    OpSpec op;
    op.name = node.name();
    if (op.name.empty() || op_names.count(op.name)) {
      std::string base = op.name.empty() ? node.op_type() : op.name;
      do {
        op.name = fmt::format("{}_{}", base, counters[base]++);
      } while (used_names.count(op.name) || op_names.count(op.name));
    }
    op_names.insert(op.name);
    op.onnx_type = node.op_type();
    op.domain = node.domain();
    for (const auto& a : node.attribute()) {
      if (auto v = ConvertAttribute(a, op.name)) {
        op.attributes.insert_or_assign(a.name(), std::move(*v));
      } else if (HasErrors(diagnostics_)) {
        return {nullptr, std::move(diagnostics_)};
      }
    }
    op.module = ModuleOf(node, op.name);
    for (const std::string& in : node.input()) op.inputs.push_back(in);
    for (int k = 0; k < node.output_size(); ++k) {
      std::string out = node.output(k);
      if (out.empty()) out = fmt::format("{}:unused_output_{}", op.name, k);  // omitted optional output
      op.outputs.push_back(SpecFor(out));
    }
    MapOp(node, &op);
    builder_.AddOp(std::move(op));
  }
  for (const auto& out : graph.output()) builder_.AddOutput(out.name());
  if (!CheckModuleMapAgainst(graph, constant_nodes)) return {nullptr, std::move(diagnostics_)};
  ReportDuplicateNodeNames(graph);

  ImportResult r = std::move(builder_).Build();
  diagnostics_.insert(diagnostics_.end(), r.diagnostics.begin(), r.diagnostics.end());
  r.diagnostics = std::move(diagnostics_);
  if (HasErrors(r.diagnostics)) r.model = nullptr;
  return r;
}

}  // namespace

ImportResult ImportOnnxBytes(std::string_view bytes, std::string_view name, const ImportOptions& options) {
  try {
    return Importer(name, options).Run(bytes);
  } catch (const std::exception& e) {
    DiagLocation loc;
    loc.file = std::string(name);
    return {nullptr, {MakeDiagnostic(DiagCode::kModelInvalid, loc, fmt::format("cannot import the model: {}", e.what()))}};
  }
}

ImportResult ImportOnnxFile(const std::string& path, const ImportOptions& options) {
  // 2 GiB: protobuf's limit; larger models keep their weights as external data, which qrules
  // refuses with its own message.
  std::string bytes;
  if (auto d = ReadFileBounded(path, size_t{2} << 30, bytes)) return {nullptr, {std::move(*d)}};
  return ImportOnnxBytes(bytes, path, options);
}

}  // namespace qrules
