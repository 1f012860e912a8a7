// qrules/tensor.h — a dense tensor value: shape, element type, data.
//
// Used for model initializers, executor activations and .npy files.  Float tensors keep float32
// data in `f32`; every integer and boolean tensor keeps its values widened to int64 in `i64` (the
// executor's shape-computing chains are int64 in ONNX anyway).  Data is C order (row-major).
// Plain value type; not thread-safe to mutate, safe to share const.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace qrules {

enum class ElementType { kFloat32, kInt64, kInt32, kInt8, kUint8, kBool };
std::string_view ElementTypeName(ElementType t);  // "float32", "int64", ...
inline bool IsFloat(ElementType t) { return t == ElementType::kFloat32; }

struct Tensor {
  ElementType type = ElementType::kFloat32;
  std::vector<int64_t> shape;   // rank 0 = scalar
  std::vector<float> f32;       // when type == kFloat32
  std::vector<int64_t> i64;     // otherwise

  // Product of the dims (1 for a scalar).
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  bool is_float() const { return type == ElementType::kFloat32; }

  static Tensor Float(std::vector<int64_t> shape, std::vector<float> data) {
    Tensor t;
    t.type = ElementType::kFloat32;
    t.shape = std::move(shape);
    t.f32 = std::move(data);
    return t;
  }
  static Tensor Int64(std::vector<int64_t> shape, std::vector<int64_t> data) {
    Tensor t;
    t.type = ElementType::kInt64;
    t.shape = std::move(shape);
    t.i64 = std::move(data);
    return t;
  }
};

}  // namespace qrules
