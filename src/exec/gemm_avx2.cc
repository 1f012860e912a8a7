// AVX2+FMA variant of the GEMM, built with -mavx2 -mfma and only called after a runtime check.
#include <cstdint>
#define Eigen qrules_eigen_avx2
#define QRULES_SGEMM_NAME SgemmAvx2
#include "exec/gemm_impl.inc"
