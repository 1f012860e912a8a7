// src/exec/vec.h — element-wise and row kernels with instruction-set variants (internal).
//
// The kernel library is built for generic x86-64; these loops (exp, erf, row reductions) are the
// transformer's non-GEMM time and gain 2–4x from AVX2/AVX-512.  Like the GEMM (gemm.cc), each
// variant is the same source (vec_impl.inc) compiled with its own flags and Eigen namespace, and
// the best one the CPU runs is picked once at run time.
#pragma once

#include <cstdint>
#include <string_view>

namespace qrules::internal {

struct VecKernels {
  // Softmax (or log-softmax) over each of `rows` contiguous rows of `len` floats.
  void (*softmax_rows)(const float* x, float* y, int64_t rows, int64_t len, bool log);
  // y = erf(x) and y = 0.5 x (1 + erf(x / sqrt 2)), n elements (y may equal x).
  void (*erf)(const float* x, float* y, int64_t n);
  void (*gelu)(const float* x, float* y, int64_t n);
  // Layer normalisation of `rows` rows of `len` floats: y = (x - mean) * inv_std * scale + bias
  // with scale/bias of `len` floats (bias may be null); mean/inv_std per row are stored when
  // their pointers are not null.
  void (*layer_norm_rows)(const float* x, float* y, int64_t rows, int64_t len, const float* scale,
                          const float* bias, float eps, float* mean_out, float* inv_out);
};

// The variant for this CPU; QRULES_EXEC_GEMM=generic|avx2 caps it like the GEMM's.
const VecKernels& Vec();
std::string_view VecPath();

}  // namespace qrules::internal
