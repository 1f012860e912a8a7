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
        "dtype '<c8' is not supported (expected <f4, <f8, |u1, |i1, <i4, <i8 or |b1)");
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
