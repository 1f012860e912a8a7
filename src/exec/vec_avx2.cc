// AVX2+FMA variant of the VecKernels (vec.h), built with -mavx2 -mfma; called after a run-time check.
#include <cmath>
#include <cstdint>
#define Eigen qrules_eigen_vec_avx2
#define QRULES_VEC_NS vec_avx2
#define QRULES_VEC_BYTES 32
#include "exec/vec_impl.inc"
