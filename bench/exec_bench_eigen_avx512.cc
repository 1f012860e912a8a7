#include <cstdint>
#define Eigen qrules_bench_eigen_avx512
#define QRULES_BARE_NAME BareEigenAvx512
#include "exec_bench_eigen.inc"
