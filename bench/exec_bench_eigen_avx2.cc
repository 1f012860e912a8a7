#include <cstdint>
#define Eigen qrules_bench_eigen_avx2
#define QRULES_BARE_NAME BareEigenAvx2
#include "exec_bench_eigen.inc"
