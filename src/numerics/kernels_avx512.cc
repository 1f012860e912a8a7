// The kernels for AVX-512 (16 lanes, masked loop tails); compiled with -mavx512f, used only when
// the CPU has AVX-512F.
#define QRULES_KERNEL_NS avx512
#include "numerics/kernels_impl.h"

namespace qrules::internal {
const KernelTable& Avx512Kernels(DivisionMethod method) { return avx512::Table(method); }
}  // namespace qrules::internal
