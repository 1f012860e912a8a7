// ONNX import: the shared Fashion-MNIST models (expectations from models/README.md and the module
// maps), the op mapping on a hand-made model, and malformed / hostile files.
#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>

#include "qrules/onnx_import.h"

using namespace qrules;

namespace {

std::string ModelPath(const std::string& name) { return std::string(QRULES_TEST_DATA_DIR "/models/") + name; }

ImportResult Import(const std::string& name, bool with_map = true) {
  ImportOptions options;
  if (with_map) options.module_map_path = ModelPath(name + ".modules.json");
  return ImportOnnxFile(ModelPath(name + ".onnx"), options);
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> OpTypes(const Model& m) {
  std::vector<std::string> v;
  for (const Op& op : m.ops()) v.push_back(op.type);
  return v;
}

std::string ModuleOf(const Model& m, const std::string& op) { return m.module(m.FindOp(op)->module).name; }

const TensorInfo& InputOf(const Model& m, const std::string& op, size_t i) {
  return m.tensor(m.FindOp(op)->inputs.at(i));
}

}  // namespace

TEST_CASE("fmnist_mlp: flatten, three linears in fc1..fc3, two relus", "[ir][onnx]") {
  ImportResult r = Import("fmnist_mlp");
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  const Model& m = *r.model;
  CHECK(OpTypes(m) == std::vector<std::string>{"flatten", "linear", "relu", "linear", "relu", "linear"});
  CHECK(ModuleOf(m, "/fc1/Gemm") == "fc1");
  CHECK(ModuleOf(m, "/fc2/Gemm") == "fc2");
  CHECK(ModuleOf(m, "/fc3/Gemm") == "fc3");
  CHECK(ModuleOf(m, "/relu1/Relu") == "relu1");
  CHECK(ModuleOf(m, "/flatten/Flatten") == "flatten");
  const Op& fc1 = *m.FindOp("/fc1/Gemm");
  CHECK(fc1.onnx_type == "Gemm");
  CHECK(fc1.weight_output_axis == 0);  // transB=1: torch layout [out, in]
  CHECK(fc1.weight_input_axis == 1);
  CHECK(DefaultWeightAxis(fc1, WeightAxisUse::kPerChannel) == 0);
  CHECK(m.InputName(fc1, 0) == "input");
  CHECK(m.InputName(fc1, 1) == "weight");
  CHECK(m.InputName(fc1, 2) == "bias");
  const TensorInfo& w = InputOf(m, "/fc1/Gemm", 1);
  CHECK(w.name == "fc1.weight");
  CHECK(w.is_state());
  CHECK(m.module(w.owner).name == "fc1");
  CHECK(w.local_name == "weight");
  CHECK(w.shape == Shape{{256}, {784}});
  REQUIRE(w.data);
  CHECK(w.data->f32.size() == 256u * 784u);
  const TensorInfo& b = InputOf(m, "/fc3/Gemm", 2);
  CHECK(m.module(b.owner).name == "fc3");
  CHECK(b.local_name == "bias");
  // Module tree and types from the map, in named_modules() order.
  REQUIRE(m.modules().size() == 7);
  CHECK(m.root().type == "__main__.MLP");
  CHECK(m.FindModule("fc2")->type == "torch.nn.modules.linear.Linear");
  CHECK(m.FindModule("relu2")->type == "torch.nn.modules.activation.ReLU");
  CHECK(m.module(m.root().children.at(0)).name == "flatten");
  CHECK(m.module(m.root().children.at(1)).name == "fc1");
  CHECK(m.FindModule("fc1")->states.size() == 2);
  // Graph I/O with the dynamic batch dimension N.
  REQUIRE(m.inputs().size() == 1);
  const TensorInfo& in = m.tensor(m.inputs()[0]);
  CHECK(in.name == "input");
  CHECK(in.dtype == ElementType::kFloat32);
  REQUIRE(in.shape.rank() == 4);
  CHECK(in.shape.dims[0].symbol == "N");
  CHECK(in.shape.dims[0].size == -1);
  CHECK(in.shape.dims[3].size == 28);
  REQUIRE(m.outputs().size() == 1);
  CHECK(m.tensor(m.outputs()[0]).name == "logits");
  // Shape inference filled in intermediate shapes.
  const TensorInfo& h = m.tensor(fc1.outputs[0]);
  CHECK(h.shape.rank() == 2);
  CHECK(h.shape.dims[1].size == 256);
  CHECK(h.is_float());
  // Producer / consumers.
  CHECK(h.producer == *m.OpIdOf("/fc1/Gemm"));
  CHECK(h.consumers == std::vector<OpId>{*m.OpIdOf("/relu1/Relu")});
  // Module stack root → inner.
  CHECK(fc1.module_stack == std::vector<ModuleId>{0, fc1.module});
}

TEST_CASE("fmnist_cnn: folded conv weights onnx::Conv_32 are owned by conv1 as weight", "[ir][onnx]") {
  ImportResult r = Import("fmnist_cnn");
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  const Model& m = *r.model;
  CHECK(OpTypes(m) == std::vector<std::string>{"conv2d", "relu", "max_pool2d", "conv2d", "relu", "max_pool2d",
                                               "flatten", "linear", "relu", "linear"});
  const TensorInfo& w1 = *m.FindTensor("onnx::Conv_32");
  CHECK(m.module(w1.owner).name == "conv1");
  CHECK(w1.local_name == "weight");
  CHECK(w1.shape == Shape{{16}, {1}, {3}, {3}});
  const TensorInfo& b1 = *m.FindTensor("onnx::Conv_33");
  CHECK(m.module(b1.owner).name == "conv1");
  CHECK(b1.local_name == "bias");
  const TensorInfo& w2 = *m.FindTensor("onnx::Conv_35");
  CHECK(m.module(w2.owner).name == "conv2");
  CHECK(w2.local_name == "weight");
  const Op& conv1 = *m.FindOp("/conv1/Conv");
  CHECK(conv1.weight_output_axis == 0);
  CHECK(DefaultWeightAxis(conv1, WeightAxisUse::kPerBlock) == 1);
  CHECK(conv1.attributes.at("kernel_shape").ints == std::vector<int64_t>{3, 3});
  CHECK(conv1.attributes.at("pads").ints.size() == 4);
  // The BN modules exist (from the map) but own nothing and contain no ops: BN was folded.
  CHECK(m.FindModule("bn1")->type == "torch.nn.modules.batchnorm.BatchNorm2d");
  CHECK(m.FindModule("bn1")->ops.empty());
  CHECK(m.FindModule("dropout")->ops.empty());
  CHECK(m.modules().size() == 14);
  // Shapes after inference: conv1 output [N, 16, 28, 28] (pads 1), pool1 output [N, 16, 14, 14].
  const TensorInfo& c1 = m.tensor(conv1.outputs[0]);
  REQUIRE(c1.shape.rank() == 4);
  CHECK(c1.shape.dims[1].size == 16);
  CHECK(m.tensor(m.FindOp("/pool1/MaxPool")->outputs[0]).shape.dims[2].size == 14);
  // Shared observers and registration per the registry.
  CHECK(FindOpType("max_pool2d")->shared_observer);
  CHECK(IsRegisteredOp("conv2d"));
  CHECK_FALSE(IsRegisteredOp("relu"));
  CHECK(FindOpType("relu")->activation);
}

TEST_CASE("fmnist_cnn_bn: batch_norm ops with their four states", "[ir][onnx]") {
  ImportResult r = Import("fmnist_cnn_bn");
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  const Model& m = *r.model;
  CHECK(OpTypes(m) == std::vector<std::string>{"conv2d", "batch_norm", "relu", "max_pool2d", "conv2d",
                                               "batch_norm", "relu", "max_pool2d", "flatten", "linear", "relu",
                                               "linear"});
  const Op& bn1 = *m.FindOp("/bn1/BatchNormalization");
  CHECK(ModuleOf(m, "/bn1/BatchNormalization") == "bn1");
  CHECK(m.InputName(bn1, 3) == "running_mean");
  const TensorInfo& rm = InputOf(m, "/bn1/BatchNormalization", 3);
  CHECK(rm.name == "bn1.running_mean");
  CHECK(m.module(rm.owner).name == "bn1");
  CHECK(rm.local_name == "running_mean");
  CHECK(m.FindModule("bn1")->states.size() == 4);
  CHECK(m.tensor(m.FindModule("conv1")->states.at(0)).local_name == "weight");
  CHECK(bn1.attributes.at("epsilon").kind == Attribute::Kind::kFloat);
  CHECK(FindOpType("batch_norm")->batch_norm);
}

TEST_CASE("without a module map, modules come from scoped node names and have no types", "[ir][onnx]") {
  ImportResult r = Import("fmnist_cnn", /*with_map=*/false);
  REQUIRE(r.ok());
  const Model& m = *r.model;
  CHECK_FALSE(m.has_module_types());
  CHECK(ModuleOf(m, "/conv2/Conv") == "conv2");
  CHECK(m.FindModule("bn1") == nullptr);  // only modules that contain nodes
  CHECK(m.module(m.FindTensor("onnx::Conv_35")->owner).name == "conv2");
}

TEST_CASE("op mapping, transposed linear weights, constants and nested scopes", "[ir][onnx]") {
  ImportResult r = ImportOnnxFile(ModelPath("variety.onnx"));
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  const Model& m = *r.model;
  // Nested scope "/layer1/layer1.0/conv1/Conv" → module layer1.0.conv1 with its parents.
  CHECK(ModuleOf(m, "/layer1/layer1.0/conv1/Conv") == "layer1.0.conv1");
  const Module& conv1 = *m.FindModule("layer1.0.conv1");
  CHECK(m.module(conv1.parent).name == "layer1.0");
  CHECK(m.module(m.module(conv1.parent).parent).name == "layer1");
  CHECK(m.FindOp("/layer1/layer1.0/conv1/Conv")->module_stack.size() == 4);
  CHECK(m.FindOp("/layer1/layer1.0/conv1/Conv")->type == "conv2d");
  CHECK(m.module(m.FindTensor("layer1.0.conv1.weight")->owner).name == "layer1.0.conv1");
  // ConvTranspose: output channels on axis 1.
  const Op& ct = *m.FindOp("/up/ConvTranspose");
  CHECK(ct.type == "conv_transpose2d");
  CHECK(DefaultWeightAxis(ct, WeightAxisUse::kPerChannel) == 1);
  CHECK(DefaultWeightAxis(ct, WeightAxisUse::kPerBlock) == 0);
  CHECK(m.module(m.FindTensor("onnx::ConvTranspose_7")->owner).name == "up");
  CHECK(m.FindOp("/pool/GlobalAveragePool")->type == "adaptive_avg_pool2d");
  // MatMul with an [in, out] initializer → linear, output channels on axis 1.
  const Op& mm = *m.FindOp("/head/MatMul");
  CHECK(mm.type == "linear");
  CHECK(mm.weight_output_axis == 1);
  CHECK(DefaultWeightAxis(mm, WeightAxisUse::kPerChannel) == 1);
  CHECK(DefaultWeightAxis(mm, WeightAxisUse::kPerBlock) == 0);
  const TensorInfo& mw = *m.FindTensor("onnx::MatMul_20");
  CHECK(m.module(mw.owner).name == "head");
  CHECK(mw.local_name == "weight");
  // A Constant node is a state with data, owned by its consumer's module, named by the slot; it is
  // not an op.
  CHECK(m.FindOp("/head/Constant") == nullptr);
  const TensorInfo& c = *m.FindTensor("/head/Constant_output_0");
  CHECK(c.is_state());
  REQUIRE(c.data);
  CHECK(c.data->f32 == std::vector<float>(5, 1.0f));
  CHECK(m.module(c.owner).name == "head");
  CHECK(c.local_name == "other");
  CHECK(m.FindOp("/head/Add")->type == "add");
  // Gemm with transB=0 → linear with its weight stored [in, out].
  const Op& fc = *m.FindOp("/fc/Gemm");
  CHECK(fc.type == "linear");
  CHECK(fc.weight_output_axis == 1);
  CHECK(fc.attributes.at("transB").i == 0);
  // MatMul of two activations.
  CHECK(m.FindOp("/attn/MatMul")->type == "matmul");
  CHECK(m.FindOp("/attn/Softmax")->type == "softmax");
  CHECK_FALSE(IsRegisteredOp("softmax"));
  const Op& cat = *m.FindOp("/cat/Concat");
  CHECK(cat.type == "cat");
  CHECK(cat.inputs.size() == 2);
  CHECK(cat.inputs[0] == cat.inputs[1]);
  CHECK(m.InputName(cat, 1) == "tensors");
  CHECK(m.tensor(cat.inputs[0]).consumers.size() == 1);  // distinct ops
  // Unknown op: ONNX type kept.
  CHECK(m.FindOp("/misc/NonZero")->type == "NonZero");
  CHECK(FindOpType("NonZero") == nullptr);
  // Gather on a state → embedding; weight is input 0.
  const Op& emb = *m.FindOp("/emb/Gather");
  CHECK(emb.type == "embedding");
  CHECK(emb.weight_input == 0);
  CHECK(m.InputName(emb, 0) == "weight");
  CHECK(m.InputName(emb, 1) == "indices");
  CHECK(m.tensor(emb.inputs[1]).dtype == ElementType::kInt64);
  CHECK_FALSE(m.tensor(emb.inputs[1]).is_float());
  CHECK(m.module(m.FindTensor("emb.weight")->owner).name == "emb");
}

TEST_CASE("the module map decides attribution and rejects malformed maps", "[ir][onnx]") {
  ImportOptions options;
  // Three of the six nodes attributed: the least a map may cover (half).
  options.module_map_json = R"({"modules": {"": "a.Net", "body": "a.Body", "body.fc": "torch.nn.Linear"},
                                "nodes": {"/fc1/Gemm": "body.fc", "/flatten/Flatten": "body", "/relu1/Relu": "body"}})";
  ImportResult r = ImportOnnxFile(ModelPath("fmnist_mlp.onnx"), options);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  CHECK(ModuleOf(*r.model, "/fc1/Gemm") == "body.fc");
  CHECK(ModuleOf(*r.model, "/fc2/Gemm") == "");  // scope "fc2" is not a listed module: the root
  CHECK(r.model->FindOp("/fc1/Gemm")->module_stack.size() == 3);

  auto bad = [](const char* json) {
    ImportOptions o;
    o.module_map_json = json;
    ImportResult res = ImportOnnxFile(ModelPath("fmnist_mlp.onnx"), o);
    REQUIRE_FALSE(res.ok());
    REQUIRE(res.diagnostics.size() == 1);
    CHECK(res.diagnostics[0].id() == "module-map-invalid");
    return res.diagnostics[0].message;
  };
  CHECK(bad("{") == "the module map is not valid JSON");
  CHECK(bad("[1]") == "the module map must be a JSON object with keys \"modules\" and \"nodes\"");
  CHECK(bad(R"({"module": {}})") ==
        "unknown key \"module\" in the module map (expected \"modules\" and \"nodes\")");
  CHECK(bad(R"({"modules": {"fc1": 3}})") == "\"modules\" entry \"fc1\" must map to a string, not number");
  CHECK(bad(R"({"modules": {"fc1": "x.Y"}, "nodes": {"/fc1/Gemm": "fc9"}})") ==
        "node \"/fc1/Gemm\" is attributed to module \"fc9\", which \"modules\" does not list");
  CHECK(bad(R"({"modules": {"a..b": "x.Y"}})") == "\"a..b\" is not a module name");
  // The map of another export: nodes this model does not have, or too few of its nodes covered.
  CHECK(bad(R"({"modules": {"": "a.Net", "fc": "x.Y"}, "nodes": {"/fc1/Gemm": "fc", "/conv9/Conv": "fc",
                "/a/Relu": "fc", "/b/Relu": "fc", "/c/Relu": ""}})") ==
        "the module map names 4 of its 5 nodes that model '" + ModelPath("fmnist_mlp.onnx") +
            "' does not have ('/a/Relu', '/b/Relu', '/c/Relu', ...): is it the map of another export?");
  CHECK(bad(R"({"modules": {"": "a.Net", "x": "x.Y"}, "nodes": {"/fc1/Gemm": "x"}})") ==
        "the module map attributes only 1 of the 6 nodes of model '" + ModelPath("fmnist_mlp.onnx") +
            "' to a module; 5 are left in no module ('/flatten/Flatten', '/relu1/Relu', '/fc2/Gemm', ...): is it the "
            "map of another export?");

  ImportOptions missing;
  missing.module_map_path = ModelPath("does-not-exist.json");
  ImportResult res = ImportOnnxFile(ModelPath("fmnist_mlp.onnx"), missing);
  REQUIRE(res.diagnostics.size() == 1);
  CHECK(res.diagnostics[0].id() == "io-error");
}

TEST_CASE("structurally invalid models get model-invalid diagnostics", "[ir][onnx]") {
  auto first = [](const std::string& file) {
    ImportResult r = ImportOnnxFile(ModelPath(file));
    CHECK_FALSE(r.ok());
    CHECK(r.model == nullptr);
    REQUIRE_FALSE(r.diagnostics.empty());
    CHECK(r.diagnostics[0].id() == "model-invalid");
    return RenderText(r.diagnostics);
  };
  CHECK(first("dangling.onnx") == ModelPath("dangling.onnx") +
                                      ": error: op 'add' reads undefined tensor 'missing' [model-invalid]\n");
  CHECK(first("cycle.onnx") == ModelPath("cycle.onnx") +
                                   ": error: op 'add1' is part of a cycle: it depends on its own output "
                                   "[model-invalid]\n");
  CHECK(first("external_data.onnx").find("keeps its data in an external file") != std::string::npos);
  CHECK(first("absurd_dims.onnx").find("initializer 'w' has an invalid shape (dimension 1099511627776)") != std::string::npos);
  CHECK(first("short_data.onnx").find("initializer 'w' has shape [4, 4] (16 elements) but 2 values of data") !=
        std::string::npos);

  ImportResult missing = ImportOnnxFile(ModelPath("nope.onnx"));
  REQUIRE(missing.diagnostics.size() == 1);
  CHECK(missing.diagnostics[0].id() == "io-error");
}

TEST_CASE("empty, random and truncated bytes never crash the importer", "[ir][onnx]") {
  ImportResult empty = ImportOnnxBytes("", "empty.onnx");
  REQUIRE(empty.diagnostics.size() == 1);
  CHECK(RenderText(empty.diagnostics) ==
        "empty.onnx: error: the file is empty; expected an ONNX model [model-invalid]\n");

  std::mt19937 rng(1234);
  for (int i = 0; i < 200; ++i) {
    std::string bytes(static_cast<size_t>(1 + rng() % 2000), '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    ImportResult r = ImportOnnxBytes(bytes, "random.onnx");
    CHECK_FALSE(r.ok());
    REQUIRE_FALSE(r.diagnostics.empty());
    CHECK(r.diagnostics[0].id() == "model-invalid");
  }

  for (const char* name : {"fmnist_cnn_bn.onnx", "variety.onnx"}) {
    std::string bytes = ReadAll(ModelPath(name));
    REQUIRE(bytes.size() > 1000);
    size_t ok = 0, failed = 0;
    std::vector<size_t> cuts;
    for (size_t cut = 0; cut < 400; ++cut) cuts.push_back(cut);
    for (size_t cut = 400; cut < bytes.size(); cut += 1 + rng() % 3000) cuts.push_back(cut);
    for (size_t cut : cuts) {
      ImportResult r = ImportOnnxBytes(std::string_view(bytes).substr(0, cut), name);
      if (r.ok()) {
        ++ok;
      } else {
        ++failed;
        REQUIRE_FALSE(r.diagnostics.empty());
      }
    }
    CHECK(failed > 0);
    CHECK(ok + failed == cuts.size());
    // Flipped bytes in the middle.
    for (int i = 0; i < 100; ++i) {
      std::string copy = bytes;
      for (int k = 0; k < 8; ++k) copy[rng() % copy.size()] = static_cast<char>(rng());
      ImportResult r = ImportOnnxBytes(copy, name);
      if (!r.ok()) CHECK_FALSE(r.diagnostics.empty());
    }
  }
}

TEST_CASE("the summary lists modules, ops and state owners", "[ir][onnx]") {
  ImportResult r = Import("fmnist_cnn");
  REQUIRE(r.ok());
  std::string s = RenderModelSummary(*r.model);
  CHECK(s.find("  conv1    torch.nn.modules.conv.Conv2d\n") != std::string::npos);
  CHECK(s.find("/conv1/Conv") != std::string::npos);
  CHECK(s.find("state onnx::Conv_32  [owner conv1, local weight]  float32[16, 1, 3, 3]") != std::string::npos);
  CHECK(s.find("[activation]") != std::string::npos);
}

TEST_CASE("two nodes with one name import, with a duplicate-node-name warning", "[ir][onnx]") {
  ImportResult r = ImportOnnxFile(ModelPath("duplicate_names.onnx"));
  REQUIRE(r.ok());
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].id() == "duplicate-node-name");
  CHECK(r.diagnostics[0].severity == Severity::kWarning);
  CHECK(r.diagnostics[0].message ==
        "2 nodes are named 'act': op_name rules and explain --op see them as 'act', 'act_0', ...");
  // The second is renamed, as the message says.
  CHECK(r.model->FindOp("act") != nullptr);
  CHECK(r.model->FindOp("act_0") != nullptr);
}
