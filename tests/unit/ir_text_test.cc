// The IR text format: parsing, printing round trips, diagnostics with carets, and the grammar
// file staying in sync with the PEGTL grammar.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "ir/text_grammar.h"
#include "qrules/onnx_import.h"

using namespace qrules;

namespace {

ModelResult Parse(const std::string& text) {
  return ParseModelText(std::make_shared<const Source>("t.qir", text));
}

// Full rendered diagnostics of a text that must fail.
std::string Errors(const std::string& text) {
  ModelResult r = Parse(text);
  CHECK_FALSE(r.ok());
  CHECK(r.model == nullptr);
  return RenderText(r.diagnostics);
}

}  // namespace

TEST_CASE("the sample IR file parses into the documented structure", "[ir][text]") {
  ModelResult r = LoadModelTextFile(QRULES_TEST_DATA_DIR "/ir/small_net.qir");
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  const Model& m = *r.model;
  CHECK(m.root().type == "my.Net");
  CHECK(m.FindModule("features.0")->type == "torch.nn.modules.conv.Conv2d");
  CHECK(m.module(m.FindModule("features.0")->parent).name == "features");
  const Op& conv = *m.FindOp("conv");
  CHECK(conv.type == "conv2d");
  CHECK(conv.onnx_type.empty());
  CHECK(m.module(conv.module).name == "features.0");
  CHECK(conv.module_stack.size() == 3);
  CHECK(conv.attributes.at("strides").ints == std::vector<int64_t>{1, 1});
  CHECK(conv.attributes.at("group").kind == Attribute::Kind::kInt);
  CHECK(m.FindOp("bn")->attributes.at("epsilon").kind == Attribute::Kind::kFloat);
  const TensorInfo& bias = *m.FindTensor("features.0.bias");
  CHECK(m.module(bias.owner).name == "features.0");
  CHECK(bias.local_name == "bias");
  REQUIRE(bias.data);
  CHECK(bias.data->f32 == std::vector<float>{0.5f, -0.25f, 0.0f, 1e-3f});
  // Explicit owner/local; dotless name consumed by a root-level op.
  const TensorInfo& wt = *m.FindTensor("w_t");
  CHECK(m.module(wt.owner).name == "fc");
  CHECK(wt.local_name == "weight");
  const TensorInfo& shift = *m.FindTensor("shift");
  CHECK(shift.owner == 0);
  CHECK(shift.local_name == "other");
  CHECK(shift.shape.known);
  CHECK(shift.shape.rank() == 0);
  const Op& fc = *m.FindOp("fc");
  CHECK(fc.onnx_type == "MatMul");
  CHECK(DefaultWeightAxis(fc, WeightAxisUse::kPerChannel) == 1);
  CHECK(m.tensor(m.inputs()[0]).shape.dims[0].symbol == "N");
  CHECK(m.FindOp("relu")->module == *m.ModuleIdOf("features"));
}

TEST_CASE("printing and re-parsing gives the same text (round trip)", "[ir][text]") {
  ModelResult a = LoadModelTextFile(QRULES_TEST_DATA_DIR "/ir/small_net.qir");
  REQUIRE(a.ok());
  std::string printed = PrintModelText(*a.model);
  ModelResult b = Parse(printed);
  INFO(printed << RenderText(b.diagnostics));
  REQUIRE(b.ok());
  CHECK(PrintModelText(*b.model) == printed);
  CHECK(printed.find("state w_t : float32[36, 10] owner \"fc\" local weight\n") != std::string::npos);
  CHECK(printed.find("op linear \"fc\" in \"fc\" onnx MatMul weight_axes(1, 0) (f, w_t) -> y : float32[N, 10]\n") !=
        std::string::npos);

  // An imported ONNX model round-trips too, data included.
  ImportOptions options;
  options.module_map_path = QRULES_TEST_DATA_DIR "/models/fmnist_cnn.modules.json";
  ImportResult cnn = ImportOnnxFile(QRULES_TEST_DATA_DIR "/models/fmnist_cnn.onnx", options);
  REQUIRE(cnn.ok());
  std::string text = PrintModelText(*cnn.model);
  ModelResult back = Parse(text);
  INFO(RenderText(back.diagnostics));
  REQUIRE(back.ok());
  CHECK(PrintModelText(*back.model) == text);
  const TensorInfo& w = *back.model->FindTensor("onnx::Conv_32");
  CHECK(back.model->module(w.owner).name == "conv1");
  CHECK(w.data->f32 == cnn.model->FindTensor("onnx::Conv_32")->data->f32);
  CHECK(back.model->FindOp("/conv1/Conv")->attributes.at("pads").ints ==
        cnn.model->FindOp("/conv1/Conv")->attributes.at("pads").ints);
}

TEST_CASE("syntax errors point at the offending token with a caret", "[ir][text]") {
  CHECK(Errors("") ==
        "t.qir:1:1: error: expected the header 'qrules-ir 1' at the start of the file [syntax]\n"
        "    1 | \n"
        "      | ^\n");
  CHECK(Errors("qrules-ir 2\n") ==
        "t.qir:1:11: error: IR text format version 2 is not supported (this qrules reads version 1) "
        "[unsupported-version]\n"
        "    1 | qrules-ir 2\n"
        "      |           ^\n");
  CHECK(Errors("qrules-ir 1\ninput x float32[1]\n") ==
        "t.qir:2:9: error: expected ':' [syntax]\n"
        "    2 | input x float32[1]\n"
        "      |         ^\n");
  CHECK(Errors("qrules-ir 1\ninput x : float32[1, 2\n") ==
        "t.qir:2:23: error: expected ',' or ']' [syntax]\n"
        "    2 | input x : float32[1, 2\n"
        "      |                       ^\n");
  CHECK(Errors("qrules-ir 1\nop relu \"r\" (x) y\n") ==
        "t.qir:2:17: error: expected '->' and the op's outputs [syntax]\n"
        "    2 | op relu \"r\" (x) y\n"
        "      |                 ^\n");
  CHECK(Errors("qrules-ir 1\nmodule \"a\" : \"b\nop\n") ==
        "t.qir:2:16: error: unterminated string [syntax]\n"
        "    2 | module \"a\" : \"b\n"
        "      |                ^\n");
  CHECK(Errors("qrules-ir 1\nstate w : float32[2] = [1, 2,]\n") ==
        "t.qir:2:30: error: expected a number [syntax]\n"
        "    2 | state w : float32[2] = [1, 2,]\n"
        "      |                              ^\n");
  CHECK(Errors("qrules-ir 1\nmodel \"x\"\n") ==
        "t.qir:2:1: error: expected 'module', 'input', 'state', 'op' or 'output' [syntax]\n"
        "    2 | model \"x\"\n"
        "      | ^\n");
}

TEST_CASE("semantic errors: unknown dtype, undefined tensor, duplicates, cycles, data size", "[ir][text]") {
  CHECK(Errors("qrules-ir 1\ninput x : flaot32[1]\n") ==
        "t.qir:2:11: error: unknown dtype 'flaot32' [model-invalid]\n"
        "    2 | input x : flaot32[1]\n"
        "      |           ^~~~~~~\n"
        "t.qir:2:11: note: did you mean 'float32'?\n");
  CHECK(Errors("qrules-ir 1\ninput x : float32[1]\nop relu \"r\" (y) -> z\n") ==
        "t.qir:3:9: error: op 'r' reads undefined tensor 'y' [model-invalid]\n"
        "    3 | op relu \"r\" (y) -> z\n"
        "      |         ^~~\n");
  CHECK(Errors("qrules-ir 1\ninput x : float32[1]\nstate x : float32[1]\n") ==
        "t.qir:3:7: error: tensor 'x' is defined twice [model-invalid]\n"
        "    3 | state x : float32[1]\n"
        "      |       ^\n"
        "t.qir:2:7: note: first defined here\n"
        "    2 | input x : float32[1]\n"
        "      |       ^\n");
  CHECK(Errors("qrules-ir 1\ninput x : float32[1]\nop add \"a\" (x, c) -> b\nop relu \"r\" (b) -> c\n") ==
        "t.qir:3:8: error: op 'a' is part of a cycle: it depends on its own output [model-invalid]\n"
        "    3 | op add \"a\" (x, c) -> b\n"
        "      |        ^~~\n");
  CHECK(Errors("qrules-ir 1\nstate w : float32[2, 2] = [1, 2, 3]\n") ==
        "t.qir:2:7: error: state 'w': data has 3 values but its shape [2, 2] needs 4 [model-invalid]\n"
        "    2 | state w : float32[2, 2] = [1, 2, 3]\n"
        "      |       ^\n");
  CHECK(Errors("qrules-ir 1\ninput x : float32[1]\nop relu \"r\" (x) -> y { a = 1, a = 2 }\n") ==
        "t.qir:3:31: error: attribute 'a' is given twice [duplicate-entry]\n"
        "    3 | op relu \"r\" (x) -> y { a = 1, a = 2 }\n"
        "      |                               ^\n");
  CHECK(Errors("qrules-ir 1\nstate i : int64[2] = [1, 2.5]\n") ==
        "t.qir:2:26: error: '2.5' is not an integer value of a int64 tensor [model-invalid]\n"
        "    2 | state i : int64[2] = [1, 2.5]\n"
        "      |                          ^~~\n");
  CHECK(Errors("qrules-ir 1\noutput q\n") ==
        "t.qir:2:8: error: graph output 'q' is not defined [model-invalid]\n"
        "    2 | output q\n"
        "      |        ^\n");
}

TEST_CASE("ops are stored in topological order whatever the text order", "[ir][text]") {
  ModelResult r = Parse("qrules-ir 1\ninput x : float32[2]\nop relu \"second\" (a) -> b\nop relu \"first\" (x) -> a\n"
                        "op mul \"third\" (b, ~) -> c\n");
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  REQUIRE(r.model->ops().size() == 3);
  CHECK(r.model->op(0).name == "first");
  CHECK(r.model->op(1).name == "second");
  CHECK(r.model->op(2).inputs[1] == kNoTensor);
  CHECK(r.model->tensor(r.model->FindOp("first")->outputs[0]).shape.known == false);
}

TEST_CASE("grammar/ir.peg and the PEGTL grammar define the same rules", "[ir][text]") {
  std::ifstream f(QRULES_SOURCE_DIR "/grammar/ir.peg");
  REQUIRE(f);
  std::set<std::string> peg;
  std::string line;
  std::regex def(R"(^([a-z_0-9]+)\s*<-)");
  while (std::getline(f, line)) {
    std::smatch m;
    if (std::regex_search(line, m, def)) peg.insert(m[1]);
  }
  namespace g = qrules::ir_grammar;
  std::set<std::string> cpp;
  auto add = [&](auto rule) {
    std::string n(tao::pegtl::demangle<decltype(rule)>());
    cpp.insert(n.substr(n.rfind("::") + 2));
  };
  add(g::file{}), add(g::header{}), add(g::version{}), add(g::item{}), add(g::end_of_file{});
  add(g::module_decl{}), add(g::module_type_clause{}), add(g::module_name{}), add(g::module_type{});
  add(g::input_decl{}), add(g::state_decl{}), add(g::state_type_clause{}), add(g::owner_clause{});
  add(g::local_clause{}), add(g::local_name{}), add(g::data_clause{}), add(g::data_list{}), add(g::output_decl{});
  add(g::tensor_name{}), add(g::tensor_type{}), add(g::dtype{}), add(g::shape{}), add(g::dim{});
  add(g::unknown_dim{}), add(g::dim_symbol{});
  add(g::op_decl{}), add(g::op_type{}), add(g::op_name{}), add(g::op_module_clause{}), add(g::onnx_clause{});
  add(g::onnx_type{}), add(g::weight_axes_clause{}), add(g::op_inputs{}), add(g::op_input{});
  add(g::omitted_input{}), add(g::arrow{}), add(g::op_outputs{}), add(g::op_output{}), add(g::attributes{});
  add(g::attribute{}), add(g::attribute_name{}), add(g::attribute_value{}), add(g::tensor_value{});
  add(g::list_value{}), add(g::list_element{});
  add(g::identifier{}), add(g::string{}), add(g::escape{}), add(g::number{}), add(g::decimal{});
  add(g::exponent{}), add(g::integer{}), add(g::skip{}), add(g::space{}), add(g::comment{}), add(g::eol{});
  add(g::kw_qrules_ir{}), add(g::kw_module{}), add(g::kw_input{}), add(g::kw_state{}), add(g::kw_owner{});
  add(g::kw_local{}), add(g::kw_output{}), add(g::kw_op{}), add(g::kw_in{}), add(g::kw_onnx{});
  add(g::kw_weight_axes{}), add(g::kw_tensor{}), add(g::idchar{});
  CHECK(peg == cpp);
}
