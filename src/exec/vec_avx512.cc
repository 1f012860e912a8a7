// AVX-512 variant of the VecKernels (vec.h), built with -mavx512f -mavx512dq; called after a
// run-time check.
#include <cmath>
#include <cstdint>
#define Eigen qrules_eigen_vec_avx512
#define QRULES_VEC_NS vec_avx512
#define QRULES_VEC_BYTES 64
#include "exec/vec_impl.inc"
