// The executor's single GEMM entry point: Eigen, with the instruction set picked at run time.
// The library is built for generic x86-64; the AVX2/AVX-512 variants live in their own files,
// compiled with those flags and a renamed Eigen namespace, and are only called when the CPU has them.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "exec/kernels.h"

#define QRULES_SGEMM_NAME SgemmGeneric
#include "exec/gemm_impl.inc"

namespace qrules::internal {

#if defined(QRULES_EXEC_X86_VARIANTS)
void SgemmAvx2(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
               int64_t, float, float*, int64_t);
void SgemmAvx512(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                 const float*, int64_t, float, float*, int64_t);
#endif

namespace {

using SgemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                         const float*, int64_t, float, float*, int64_t);

struct Choice {
  SgemmFn fn;
  std::string_view name;
};

Choice Pick() {
#if defined(QRULES_EXEC_X86_VARIANTS)
  switch (PickExecIsa()) {
    case ExecIsa::kAvx512: return {&SgemmAvx512, "avx512"};
    case ExecIsa::kAvx2: return {&SgemmAvx2, "avx2-fma"};
    case ExecIsa::kGeneric: break;
  }
#endif
  return {&SgemmGeneric, "generic"};
}

const Choice& Chosen() {
  static const Choice choice = Pick();
  return choice;
}

}  // namespace

void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // empty sum: C = beta * C
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  Chosen().fn(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

std::string_view SgemmPath() { return Chosen().name; }

ExecIsa PickExecIsa() {
#if defined(QRULES_EXEC_X86_VARIANTS)
  const char* cap_env = std::getenv("QRULES_EXEC_GEMM");
  const std::string_view cap = cap_env ? cap_env : "";
  __builtin_cpu_init();
  if (cap != "generic" && cap != "avx2" && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma")) {
    return ExecIsa::kAvx512;
  }
  if (cap != "generic" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return ExecIsa::kAvx2;
  }
#endif
  return ExecIsa::kGeneric;
}

}  // namespace qrules::internal
