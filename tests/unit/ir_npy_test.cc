// .npy reading and writing, including malformed files.
#include <catch2/catch.hpp>

#include <cstring>

#include "qrules/npy.h"

using namespace qrules;

namespace {

std::string Npy(const std::string& header_dict, const std::string& data, char major = 1) {
  std::string h = header_dict;
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out("\x93NUMPY", 6);
  out += major;
  out += '\0';
  if (major == 1) {
    auto n = static_cast<uint16_t>(h.size());
    out.append(reinterpret_cast<const char*>(&n), 2);
  } else {
    auto n = static_cast<uint32_t>(h.size());
    out.append(reinterpret_cast<const char*>(&n), 4);
  }
  return out + h + data;
}

std::string Message(const std::string& bytes) {
  NpyResult r = ReadNpyBytes(bytes, "x.npy");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].id() == "data-invalid");
  return r.diagnostics[0].message;
}

}  // namespace

TEST_CASE("reads the shared model input, output and labels", "[ir][npy]") {
  NpyResult in = ReadNpyFile(QRULES_TEST_DATA_DIR "/models/fmnist_mlp.input0.npy");
  INFO(RenderText(in.diagnostics));
  REQUIRE(in.ok());
  CHECK(in.tensor->type == ElementType::kFloat32);
  CHECK(in.tensor->shape == std::vector<int64_t>{8, 1, 28, 28});  // README says [1,1,28,28]; the file holds 8 images
  CHECK(in.tensor->f32.size() == 8u * 784u);
  NpyResult out = ReadNpyFile(QRULES_TEST_DATA_DIR "/models/fmnist_mlp.output0.npy");
  REQUIRE(out.ok());
  CHECK(out.tensor->shape == std::vector<int64_t>{8, 10});
  NpyResult labels = ReadNpyFile(QRULES_TEST_DATA_DIR "/models/fmnist_test1000_labels.npy");
  REQUIRE(labels.ok());
  CHECK(labels.tensor->type == ElementType::kUint8);
  CHECK(labels.tensor->shape == std::vector<int64_t>{1000});
  for (int64_t v : labels.tensor->i64) CHECK((v >= 0 && v < 10));
}

TEST_CASE("write then read round-trips every element type", "[ir][npy]") {
  Tensor f = Tensor::Float({2, 3}, {1, -2, 3.5f, 0, 1e-7f, -0.0f});
  NpyResult r = ReadNpyBytes(WriteNpyBytes(f), "f.npy");
  REQUIRE(r.ok());
  CHECK(r.tensor->shape == f.shape);
  CHECK(r.tensor->f32 == f.f32);
  CHECK(WriteNpyBytes(f).size() % 64 == 24);  // 64-byte aligned header + 24 data bytes
  for (ElementType t : {ElementType::kInt64, ElementType::kInt32, ElementType::kInt8, ElementType::kUint8,
                        ElementType::kBool}) {
    Tensor i;
    i.type = t;
    i.shape = {4};
    i.i64 = {0, 1, 1, 0};
    NpyResult ri = ReadNpyBytes(WriteNpyBytes(i), "i.npy");
    REQUIRE(ri.ok());
    CHECK(ri.tensor->type == t);
    CHECK(ri.tensor->i64 == i.i64);
  }
  Tensor scalar = Tensor::Float({}, {7});
  NpyResult rs = ReadNpyBytes(WriteNpyBytes(scalar), "s.npy");
  REQUIRE(rs.ok());
  CHECK(rs.tensor->shape.empty());
  CHECK(rs.tensor->f32 == std::vector<float>{7});
}

TEST_CASE("format 2.0 and float64 are read", "[ir][npy]") {
  double d[2] = {1.5, -2.25};
  std::string data(reinterpret_cast<const char*>(d), sizeof d);
  NpyResult r = ReadNpyBytes(Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data, 2), "d.npy");
  REQUIRE(r.ok());
  CHECK(r.tensor->f32 == std::vector<float>{1.5f, -2.25f});
}

TEST_CASE("malformed .npy files are data-invalid with a clear message", "[ir][npy]") {
  std::string four(16, '\0');
  CHECK(Message("") == "not a NumPy .npy file: expected the magic string '\\x93NUMPY' at the start");
  CHECK(Message("hello world, not numpy") ==
        "not a NumPy .npy file: expected the magic string '\\x93NUMPY' at the start");
  CHECK(Message(Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four)) ==
        "the array is stored in Fortran order; expected C order (save it with np.ascontiguousarray)");
  CHECK(Message(Npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", four)) ==
        "dtype '>f4' is big-endian; expected little-endian ('<')");
  CHECK(Message(Npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", four)) ==
        "dtype '<c8' is not supported (expected float16/32/64, int8/16/32/64, uint8/16/32/64 or bool, "
            "little-endian)");
  CHECK(Message(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", four)) ==
        "truncated data: shape (2, 3) of <f4 needs 24 bytes, the file has 16");
  CHECK(Message(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", four)) ==
        "8 bytes of unexpected data after the array of shape (2)");
  CHECK(Message(Npy("{'descr': '<f4', 'shape': (4,), }", four)) == "malformed .npy header: no 'fortran_order' key");
  CHECK(Message(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }", four)) ==
        "malformed .npy header: 'shape' must be a tuple of non-negative integers");
  CHECK(Message(Npy("['descr']", four)) == "malformed .npy header: the header is not a Python dict ('{' expected)");
  CHECK(Message(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999,), }", four)) ==
        "malformed .npy header: a dimension in 'shape' is too large");
  std::string good = Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", four);
  CHECK(Message(good.substr(0, 40)).rfind("truncated .npy header", 0) == 0);
  for (size_t cut = 0; cut < good.size(); ++cut) CHECK_FALSE(ReadNpyBytes(good.substr(0, cut), "t.npy").ok());
  NpyResult missing = ReadNpyFile("/nonexistent/x.npy");
  REQUIRE(missing.diagnostics.size() == 1);
  CHECK(missing.diagnostics[0].id() == "io-error");
}

namespace {
template <typename T>
std::string Bytes(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return out;
}
std::string Header(const char* descr, int n) {
  return std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }";
}
}  // namespace

TEST_CASE("float16, float64 and the wider integer dtypes are read exactly or with a note", "[ir][npy]") {
  // float16 bit patterns (IEEE binary16): 1.0, -2.0, the smallest subnormal 2^-24, 65504, -inf.
  NpyResult h = ReadNpyBytes(Npy(Header("<f2", 5), Bytes<uint16_t>({0x3C00, 0xC000, 0x0001, 0x7BFF, 0xFC00})), "h.npy");
  REQUIRE(h.ok());
  CHECK(h.dtype == "float16");
  REQUIRE(h.tensor->is_float());
  CHECK(h.tensor->f32 == std::vector<float>{1.0f, -2.0f, 0x1p-24f, 65504.0f, -INFINITY});
  CHECK(h.diagnostics.empty());
  // float64: 0.5 is exact in float32, 0.1 and 1 + 2^-30 are not: two of three change, a note says so.
  NpyResult d = ReadNpyBytes(Npy(Header("<f8", 3), Bytes<double>({0.5, 0.1, 1.0 + 0x1p-30})), "d.npy");
  REQUIRE(d.ok());
  CHECK(d.tensor->f32 == std::vector<float>{0.5f, 0.1f, 1.0f});
  REQUIRE(d.diagnostics.size() == 1);
  CHECK(d.diagnostics[0].severity == Severity::kNote);
  CHECK(d.diagnostics[0].id() == "data-converted");
  CHECK(d.diagnostics[0].message == "float64 values rounded to float32 (2 of 3 changed)");
  // Integers are widened to int64 with their sign (or its absence) kept.
  struct Case {
    const char* descr;
    std::string data;
    std::vector<int64_t> values;
  };
  const Case cases[] = {
      {"<i2", Bytes<int16_t>({-32768, 32767}), {-32768, 32767}},
      {"<u2", Bytes<uint16_t>({0, 65535}), {0, 65535}},
      {"<u4", Bytes<uint32_t>({0, 4294967295u}), {0, 4294967295}},
      {"<u8", Bytes<uint64_t>({7, 9223372036854775807ull}), {7, INT64_MAX}},
      {"|i1", Bytes<int8_t>({-128, 127}), {-128, 127}},
  };
  for (const Case& c : cases) {
    INFO(c.descr);
    NpyResult r = ReadNpyBytes(Npy(Header(c.descr, 2), c.data), "i.npy");
    REQUIRE(r.ok());
    CHECK(r.tensor->i64 == c.values);
  }
  // A uint64 beyond int64 is refused with its value and place.
  CHECK(Message(Npy(Header("<u8", 2), Bytes<uint64_t>({1, 9223372036854775808ull}))) ==
        "uint64 value 9223372036854775808 at index 1 is out of range: qrules holds integer data as int64");
}

TEST_CASE("ConformToInput converts exactly what a model input takes, and says why not", "[ir][npy]") {
  TensorInfo ids;
  ids.name = "input_ids";
  ids.dtype = ElementType::kInt64;
  ids.dtype_name = "int64";
  ids.shape = Shape{Dim::Symbol("N"), {6}};
  TensorInfo feats = ids;
  feats.name = "features";
  feats.dtype = ElementType::kFloat32;
  feats.dtype_name = "float32";
  feats.shape = Shape{Dim::Symbol("N"), {2}};
  TensorInfo mask = ids;
  mask.name = "mask";
  mask.dtype = ElementType::kBool;
  mask.dtype_name = "bool";
  // int32 ids into an int64 input: passed through.
  Tensor t = Tensor::Int64({1, 6}, {1, 2, 3, 4, 5, 6});
  t.type = ElementType::kInt32;
  CHECK_FALSE(ConformToInput(t, "int32", ids));
  CHECK(t.type == ElementType::kInt64);
  // uint8 values into a float input: exact.
  Tensor u = Tensor::Int64({2, 2}, {0, 255, 7, 16777216});
  CHECK_FALSE(ConformToInput(u, "uint8", feats));
  REQUIRE(u.is_float());
  CHECK(u.f32 == std::vector<float>{0, 255, 7, 16777216});
  // 2^24 + 1 is not exact in float32.
  Tensor big = Tensor::Int64({1, 2}, {1, 16777217});
  CHECK(ConformToInput(big, "int64", feats) ==
        "the model input 'features' is float32 [N, 2]; the file holds int64 [1, 2]: its value 16777217 at index 1 is "
        "not exact in float32");
  // Floats into an integer input: refused.
  Tensor f = Tensor::Float({1, 6}, {1, 2, 3, 4, 5, 6});
  CHECK(ConformToInput(f, "float32", ids) ==
        "the model input 'input_ids' is int64 [N, 6]; the file holds float32 [1, 6]: give integer data (which "
        "integer a float stands for is a guess)");
  // A fixed dimension that differs.
  Tensor wide = Tensor::Int64({1, 7}, {1, 2, 3, 4, 5, 6, 7});
  CHECK(ConformToInput(wide, "int64", ids) == "the model input 'input_ids' is int64 [N, 6]; the file holds int64 [1, 7]");
  // A bool input takes 0 and 1 only.
  Tensor m = Tensor::Int64({1, 6}, {0, 1, 1, 0, 1, 2});
  CHECK(ConformToInput(m, "int64", mask) ==
        "the model input 'mask' is bool [N, 6]; the file holds int64 [1, 6]: its value 2 at index 5 is not 0 or 1");
}
