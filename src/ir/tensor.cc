#include "qrules/tensor.h"

namespace qrules {

std::string_view ElementTypeName(ElementType t) {
  switch (t) {
    case ElementType::kFloat32: return "float32";
    case ElementType::kInt64: return "int64";
    case ElementType::kInt32: return "int32";
    case ElementType::kInt8: return "int8";
    case ElementType::kUint8: return "uint8";
    case ElementType::kBool: return "bool";
  }
  return "unknown";
}

}  // namespace qrules
