// src/exec/kernel_util.h — shape arithmetic, output allocation and broadcasting for the kernels.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "exec/kernels.h"
#include "qrules/tensor.h"

namespace qrules::internal {

// Largest element count a kernel will allocate (4 Gi elements); bigger shapes are user errors.
// Not const: the fuzzing harness (tests/fuzz/fuzz_exec.h) lowers it, so that an allowed but huge
// tensor (a Pad to 2^31 elements) is refused there instead of taking the fuzzer's time and memory.
inline int64_t kMaxElements = int64_t{1} << 32;

// Product of dims with overflow and negativity checks; -1 when invalid or larger than kMaxElements.
int64_t CheckedNumel(std::span<const int64_t> shape);

std::string ShapeString(std::span<const int64_t> shape);  // "[1,3,224,224]"

// Sets type and shape, sizes the data vector (reusing capacity); "" or an error message.  Elements
// beyond the vector's old size are zero; the others keep their value (the executor hands a
// kernel an empty vector unless the kernel's OverwritesOutputs() is true).
KStatus AllocFloat(Tensor* t, std::vector<int64_t> shape);
KStatus AllocInt(Tensor* t, std::vector<int64_t> shape, ElementType type = ElementType::kInt64);
// Allocates `t` like `like` (type and shape).
KStatus AllocLike(Tensor* t, const Tensor& like, std::vector<int64_t> shape);

// A tensor's data vector must match its numel; checked on every kernel input.
bool DataConsistent(const Tensor& t);

// Normalises a possibly negative axis into [0, rank); false when out of range.
bool NormalizeAxis(int64_t axis, int64_t rank, int64_t* out);

// numpy broadcasting of two shapes; false when incompatible.
bool BroadcastShapes(std::span<const int64_t> a, std::span<const int64_t> b,
                     std::vector<int64_t>* out);

// Strides of `in` broadcast into `out` (0 on broadcast dims), aligned to out's rank.
std::vector<int64_t> BroadcastStrides(std::span<const int64_t> in, std::span<const int64_t> out);

// Iterates an N-d index over `shape` with per-operand strides, calling
// fn(offset_out, offset_a, offset_b, inner_len, inner_stride_a, inner_stride_b) for each innermost
// row.  Dims are collapsed where possible so the inner row is as long as it can be.
template <typename Fn>
void ForEachBroadcastRow(std::span<const int64_t> out_shape, std::vector<int64_t> sa,
                         std::vector<int64_t> sb, Fn&& fn);

// memcpy that accepts empty ranges with null pointers (std::vector::data() of an empty vector).
inline void CopyBytes(void* dst, const void* src, size_t n) {
  if (n > 0) std::memcpy(dst, src, n);
}

// Reads an int64 "list" input (shape, axes, pads, ...) from an int or float tensor.
bool ReadInts(const Tensor& t, std::vector<int64_t>* out);
// Reads a scalar (or single-element) tensor as double.
bool ReadScalar(const Tensor& t, double* out);

// ----- template implementation -----

template <typename Fn>
void ForEachBroadcastRow(std::span<const int64_t> out_shape, std::vector<int64_t> sa,
                         std::vector<int64_t> sb, Fn&& fn) {
  for (int64_t d : out_shape)
    if (d == 0) return;  // nothing to visit
  // Collapse: drop size-1 dims, merge adjacent dims that are contiguous in all operands.
  std::vector<int64_t> dims, ta, tb;
  for (size_t i = 0; i < out_shape.size(); ++i) {
    if (out_shape[i] == 1) continue;
    if (!dims.empty()) {
      int64_t d = out_shape[i];
      bool merge_a = ta.back() == sa[i] * d;
      bool merge_b = tb.back() == sb[i] * d;
      if (merge_a && merge_b) {
        dims.back() *= d;
        ta.back() = sa[i];
        tb.back() = sb[i];
        continue;
      }
    }
    dims.push_back(out_shape[i]);
    ta.push_back(sa[i]);
    tb.push_back(sb[i]);
  }
  if (dims.empty()) {
    fn(int64_t{0}, int64_t{0}, int64_t{0}, int64_t{1}, int64_t{0}, int64_t{0});
    return;
  }
  const size_t r = dims.size();
  const int64_t inner = dims[r - 1];
  const int64_t ia = ta[r - 1], ib = tb[r - 1];
  int64_t outer = 1;
  for (size_t i = 0; i + 1 < r; ++i) outer *= dims[i];
  std::vector<int64_t> idx(r, 0);
  int64_t oa = 0, ob = 0, oo = 0;
  for (int64_t row = 0; row < outer; ++row) {
    fn(oo, oa, ob, inner, ia, ib);
    oo += inner;
    // advance the outer index (dims 0..r-2)
    for (size_t d = r - 1; d-- > 0;) {
      ++idx[d];
      oa += ta[d];
      ob += tb[d];
      if (idx[d] < dims[d]) break;
      oa -= ta[d] * dims[d];
      ob -= tb[d] * dims[d];
      idx[d] = 0;
    }
  }
}

}  // namespace qrules::internal
