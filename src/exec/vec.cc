// Run-time choice of the VecKernels variant (vec.h); the generic one is compiled here.
#include "exec/vec.h"

#include "exec/kernels.h"

#include <cmath>
#include <cstdint>

#define QRULES_VEC_NS vec_generic
#define QRULES_VEC_BYTES 16
#include "exec/vec_impl.inc"

namespace qrules::internal {

#define QRULES_VEC_DECLARE(ns)                                                                  \
  namespace ns {                                                                                \
  void SoftmaxRows(const float*, float*, int64_t, int64_t, bool);                              \
  void Erf(const float*, float*, int64_t);                                                      \
  void Gelu(const float*, float*, int64_t);                                                     \
  void LayerNormRows(const float*, float*, int64_t, int64_t, const float*, const float*, float, \
                     float*, float*);                                                           \
  void ConvSmallK(const float*, int64_t, int64_t, int64_t, int64_t, const float*, int64_t,      \
                  int64_t, int64_t, int64_t, int64_t, float*, int64_t);                         \
  }
#if defined(QRULES_EXEC_X86_VARIANTS)
QRULES_VEC_DECLARE(vec_avx2)
QRULES_VEC_DECLARE(vec_avx512)
#endif
#undef QRULES_VEC_DECLARE

namespace {

#define QRULES_VEC_TABLE(ns) \
  VecKernels { &ns::SoftmaxRows, &ns::Erf, &ns::Gelu, &ns::LayerNormRows, &ns::ConvSmallK }

struct Choice {
  VecKernels kernels;
  std::string_view name;
};

Choice Pick() {
#if defined(QRULES_EXEC_X86_VARIANTS)
  switch (PickExecIsa()) {
    case ExecIsa::kAvx512: return {QRULES_VEC_TABLE(vec_avx512), "avx512"};
    case ExecIsa::kAvx2: return {QRULES_VEC_TABLE(vec_avx2), "avx2-fma"};
    case ExecIsa::kGeneric: break;
  }
#endif
  return {QRULES_VEC_TABLE(vec_generic), "generic"};
}

const Choice& Chosen() {
  static const Choice choice = Pick();
  return choice;
}

}  // namespace

const VecKernels& Vec() { return Chosen().kernels; }
std::string_view VecPath() { return Chosen().name; }

}  // namespace qrules::internal
