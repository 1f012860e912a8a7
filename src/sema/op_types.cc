#include "sema/sema.h"

namespace qrules {

std::span<const std::string_view> RegisteredPatternKeyOpTypes() {
  // §b.5: conv/conv_transpose, linear, embedding, matmul, add, mul, sub, flatten, pools, mean, cat.
  static constexpr std::string_view kKeys[] = {
      "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
      "linear", "embedding", "matmul", "add", "add_", "mul", "mul_", "sub", "sub_", "isub",
      "flatten", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
      "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "mean", "cat", "concat"};
  return kKeys;
}

}  // namespace qrules
