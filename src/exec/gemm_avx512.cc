// AVX-512 variant of the GEMM, built with -mavx512f -mavx512dq -mfma and only called after a
// runtime check.
#include <cstdint>
#define Eigen qrules_eigen_avx512
#define QRULES_SGEMM_NAME SgemmAvx512
#include "exec/gemm_impl.inc"
