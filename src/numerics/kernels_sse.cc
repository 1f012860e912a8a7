// The kernels for x86-64-v2 (SSE4.1); see kernels_impl.h.
#define QRULES_KERNEL_NS sse
#include "numerics/kernels_impl.h"

namespace qrules::internal {
const KernelTable& SseKernels(DivisionMethod method) { return sse::Table(method); }
}  // namespace qrules::internal
