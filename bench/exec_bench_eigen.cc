#include <cstdint>
#define QRULES_BARE_NAME BareEigenGeneric
#include "exec_bench_eigen.inc"
