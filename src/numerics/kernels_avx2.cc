// The kernels for AVX2 (8 lanes); compiled with -mavx2, used only when the CPU has AVX2.
#define QRULES_KERNEL_NS avx2
#include "numerics/kernels_impl.h"

namespace qrules::internal {
const KernelTable& Avx2Kernels(DivisionMethod method) { return avx2::Table(method); }
}  // namespace qrules::internal
