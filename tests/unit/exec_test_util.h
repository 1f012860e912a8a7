// Helpers for the exec tests: run one kernel, compare tensors.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "exec/kernels.h"
#include "qrules/ir.h"
#include "qrules/tensor.h"

namespace qrules::testing {

using internal::AttrMap;
using internal::AttrValue;

inline AttrValue AInt(int64_t v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kInt;
  a.i = v;
  return a;
}
inline AttrValue AFloat(float v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kFloat;
  a.f = v;
  return a;
}
inline AttrValue AInts(std::vector<int64_t> v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
inline AttrValue AStr(std::string v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kString;
  a.s = std::move(v);
  return a;
}

struct OpRun {
  std::vector<Tensor> outputs;
  std::string error;  // creation or run error
};

// Runs one kernel; `inputs` entries with `absent` set are passed as null (omitted optional).
inline OpRun RunOp(std::string_view op, const std::vector<const Tensor*>& inputs,
                   const AttrMap& attrs = {}, size_t num_outputs = 1, int64_t opset = 13) {
  OpRun r;
  internal::KernelSpec spec{op, &attrs, opset, inputs.size(), num_outputs};
  auto k = internal::CreateKernel(spec, &r.error);
  if (!k) return r;
  r.outputs.resize(num_outputs);
  std::vector<Tensor*> outs;
  for (Tensor& t : r.outputs) outs.push_back(&t);
  r.error = k->Run(inputs, outs);
  return r;
}

inline OpRun RunOp(std::string_view op, const std::vector<Tensor>& inputs,
                   const AttrMap& attrs = {}, size_t num_outputs = 1, int64_t opset = 13) {
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : inputs) ptrs.push_back(&t);
  return RunOp(op, ptrs, attrs, num_outputs, opset);
}

inline Tensor F(std::vector<int64_t> shape, std::vector<float> data) {
  return Tensor::Float(std::move(shape), std::move(data));
}
inline Tensor I(std::vector<int64_t> shape, std::vector<int64_t> data) {
  return Tensor::Int64(std::move(shape), std::move(data));
}

inline void CheckClose(const Tensor& got, const std::vector<int64_t>& shape,
                       const std::vector<float>& want, float tol = 1e-5f) {
  REQUIRE(got.is_float());
  REQUIRE(got.shape == shape);
  REQUIRE(got.f32.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(got.f32[i] == Approx(want[i]).margin(tol).epsilon(tol));
  }
}

inline void CheckInts(const Tensor& got, const std::vector<int64_t>& shape,
                      const std::vector<int64_t>& want) {
  REQUIRE(!got.is_float());
  REQUIRE(got.shape == shape);
  CHECK(got.i64 == want);
}

// Model-building helpers for executor tests: an activation, a state with its data, an op whose
// torch type is its ONNX type.
inline TensorSpec Act(std::string name, std::optional<ElementType> t = ElementType::kFloat32) {
  TensorSpec s;
  s.name = std::move(name);
  s.dtype = t;
  return s;
}

inline TensorSpec State(std::string name, Tensor v) {
  TensorSpec s;
  s.name = std::move(name);
  s.dtype = v.type;
  s.shape = Shape::Of(v.shape);
  s.data = std::move(v);
  return s;
}

inline OpSpec MakeOp(std::string name, std::string onnx_type, std::vector<std::string> inputs,
                     std::vector<TensorSpec> outputs, AttributeMap attrs = {}) {
  OpSpec o;
  o.name = std::move(name);
  o.type = onnx_type;
  o.onnx_type = std::move(onnx_type);
  o.inputs = std::move(inputs);
  o.outputs = std::move(outputs);
  o.attributes = std::move(attrs);
  return o;
}

}  // namespace qrules::testing
