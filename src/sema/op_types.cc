#include "qrules/op_table.h"
#include "sema/sema.h"

namespace qrules {

std::span<const std::string_view> RegisteredPatternKeyOpTypes() {
  // §b.5: the key ops of the registered patterns, as the op table lists them.
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> out;
    for (const OpTypeInfo& i : AllOpTypes()) {
      if (i.is_pattern_key()) out.push_back(i.type);
    }
    return out;
  }();
  return keys;
}

}  // namespace qrules
