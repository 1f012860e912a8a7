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
  // Direct convolution over a zero-padded image for short reductions (C*KH*KW <= 288, where
  // im2col and GEMM packing cost as much as the products): out[m][p] = sum_{c,i,j} w[m,c,i,j] *
  // padded[c*plane + i*dh*wp + j*dw + p] for p < ncol (rows of the padded width wp; the caller
  // drops the wrap-around columns).  `out` rows are `ldo` apart.
  void (*conv_small_k)(const float* padded, int64_t c, int64_t plane, int64_t wp, int64_t ncol,
                       const float* w, int64_t m, int64_t kh, int64_t kw, int64_t dh, int64_t dw,
                       float* out, int64_t ldo);
};

// The variant for this CPU; QRULES_EXEC_GEMM=generic|avx2 caps it like the GEMM's.
const VecKernels& Vec();
std::string_view VecPath();

}  // namespace qrules::internal
