// Constant chains that carry weights (see constant_fold.h).
#include "ir/constant_fold.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace qrules::internal {
namespace {

using Result = std::optional<Tensor>;

const Attribute* Attr(const AttributeMap& a, std::string_view name, Attribute::Kind kind) {
  auto it = a.find(name);
  return it != a.end() && it->second.kind == kind ? &it->second : nullptr;
}

// The tensor's values as int64 (integer tensors), for shapes and axes.
const std::vector<int64_t>* Ints(const Tensor* t) { return t && !t->is_float() ? &t->i64 : nullptr; }

// The element count, or -1 when a dimension is negative or the product overflows.
int64_t Numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

// A copy of `x` with a new shape of the same element count.
Result Reshaped(const Tensor& x, std::vector<int64_t> shape) {
  if (Numel(shape) != x.numel()) return std::nullopt;
  Tensor out = x;
  out.shape = std::move(shape);
  return out;
}

Result Reshape(const Tensor& x, const Tensor* shape_t, const AttributeMap& attrs) {
  const std::vector<int64_t>* spec = Ints(shape_t);
  if (!spec) return std::nullopt;
  const bool allow_zero = Attr(attrs, "allowzero", Attribute::Kind::kInt) &&
                          attrs.find("allowzero")->second.i != 0;
  std::vector<int64_t> shape(spec->begin(), spec->end());
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allow_zero) {
      if (i >= x.shape.size()) return std::nullopt;
      shape[i] = x.shape[i];
    }
    if (shape[i] == -1) {
      if (infer >= 0) return std::nullopt;
      infer = static_cast<int>(i);
      continue;
    }
    if (shape[i] < 0 || __builtin_mul_overflow(known, shape[i], &known)) return std::nullopt;
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0) return std::nullopt;
    shape[static_cast<size_t>(infer)] = x.numel() / known;
  }
  return Reshaped(x, std::move(shape));
}

Result Transpose(const Tensor& x, const AttributeMap& attrs) {
  const size_t rank = x.shape.size();
  std::vector<int64_t> perm(rank);
  for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int64_t>(rank - 1 - i);
  if (const Attribute* p = Attr(attrs, "perm", Attribute::Kind::kInts)) perm = p->ints;
  if (perm.size() != rank) return std::nullopt;
  std::vector<bool> seen(rank, false);
  for (int64_t a : perm) {
    if (a < 0 || a >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(a)]) return std::nullopt;
    seen[static_cast<size_t>(a)] = true;
  }
  Tensor out;
  out.type = x.type;
  for (int64_t a : perm) out.shape.push_back(x.shape[static_cast<size_t>(a)]);
  const int64_t n = x.numel();
  if (x.is_float()) out.f32.resize(static_cast<size_t>(n));
  else out.i64.resize(static_cast<size_t>(n));
  // Strides of x, read in the permuted order.
  std::vector<int64_t> stride(rank, 1);
  for (size_t i = rank; i-- > 1;) stride[i - 1] = stride[i] * x.shape[i];
  std::vector<int64_t> index(rank, 0);
  for (int64_t o = 0; o < n; ++o) {
    int64_t src = 0;
    for (size_t i = 0; i < rank; ++i) src += index[i] * stride[static_cast<size_t>(perm[i])];
    if (x.is_float()) out.f32[static_cast<size_t>(o)] = x.f32[static_cast<size_t>(src)];
    else out.i64[static_cast<size_t>(o)] = x.i64[static_cast<size_t>(src)];
    for (size_t i = rank; i-- > 0;) {
      if (++index[i] < out.shape[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

// Unsqueeze / Squeeze: axes from input 1 (opset 13) or the attribute (earlier opsets).
std::optional<std::vector<int64_t>> Axes(const Tensor* axes_t, const AttributeMap& attrs) {
  if (const std::vector<int64_t>* a = Ints(axes_t)) return *a;
  if (const Attribute* a = Attr(attrs, "axes", Attribute::Kind::kInts)) return a->ints;
  return std::nullopt;
}

Result Unsqueeze(const Tensor& x, const Tensor* axes_t, const AttributeMap& attrs) {
  auto axes = Axes(axes_t, attrs);
  if (!axes) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(x.shape.size() + axes->size());
  std::vector<bool> inserted(static_cast<size_t>(rank), false);
  for (int64_t a : *axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank || inserted[static_cast<size_t>(a)]) return std::nullopt;
    inserted[static_cast<size_t>(a)] = true;
  }
  std::vector<int64_t> shape;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) shape.push_back(inserted[static_cast<size_t>(i)] ? 1 : x.shape[next++]);
  return Reshaped(x, std::move(shape));
}

Result Squeeze(const Tensor& x, const Tensor* axes_t, const AttributeMap& attrs) {
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<bool> drop(x.shape.size(), false);
  if (auto axes = Axes(axes_t, attrs)) {
    for (int64_t a : *axes) {
      if (a < 0) a += rank;
      if (a < 0 || a >= rank || x.shape[static_cast<size_t>(a)] != 1) return std::nullopt;
      drop[static_cast<size_t>(a)] = true;
    }
  } else {
    for (size_t i = 0; i < x.shape.size(); ++i) drop[i] = x.shape[i] == 1;
  }
  std::vector<int64_t> shape;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    if (!drop[i]) shape.push_back(x.shape[i]);
  }
  return Reshaped(x, std::move(shape));
}

// Cast to float32 (from any type qrules holds) or to int64 (from integers): both exact here,
// since float16/bfloat16/float64 initializers were already widened or narrowed to float32 on
// import and int64 holds every integer type.  Other targets are not folded.
Result Cast(const Tensor& x, const AttributeMap& attrs) {
  const Attribute* to = Attr(attrs, "to", Attribute::Kind::kInt);
  if (!to) return std::nullopt;
  constexpr int64_t kFloat = 1, kInt64 = 7;
  if (to->i == kFloat) {
    if (x.is_float()) return x;
    Tensor out;
    out.shape = x.shape;
    out.f32.reserve(x.i64.size());
    for (int64_t v : x.i64) out.f32.push_back(static_cast<float>(v));
    return out;
  }
  if (to->i == kInt64 && !x.is_float()) {
    Tensor out = x;
    out.type = ElementType::kInt64;
    return out;
  }
  return std::nullopt;
}

// DequantizeLinear of a constant: (x - zero_point) * scale, per tensor or along `axis`.
Result Dequantize(const Tensor& x, const Tensor* scale, const Tensor* zero_point, const AttributeMap& attrs) {
  if (x.is_float() || !scale || !scale->is_float()) return std::nullopt;
  if (zero_point && zero_point->is_float()) return std::nullopt;
  const int64_t n_scale = scale->numel();
  if (n_scale < 1 || (zero_point && zero_point->numel() != n_scale)) return std::nullopt;
  int64_t axis = 1;
  if (const Attribute* a = Attr(attrs, "axis", Attribute::Kind::kInt)) axis = a->i;
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t inner = 1, channels = 1;
  if (n_scale > 1) {
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank || x.shape[static_cast<size_t>(axis)] != n_scale) return std::nullopt;
    channels = n_scale;
    for (int64_t i = axis + 1; i < rank; ++i) inner *= x.shape[static_cast<size_t>(i)];
  }
  Tensor out;
  out.shape = x.shape;
  out.f32.resize(x.i64.size());
  for (size_t i = 0; i < x.i64.size(); ++i) {
    const size_t c = static_cast<size_t>((static_cast<int64_t>(i) / inner) % channels);
    const int64_t zp = zero_point ? zero_point->i64[c] : 0;
    // As onnxruntime computes it: float(x - zp) * scale, in float32.
    out.f32[i] = static_cast<float>(x.i64[i] - zp) * scale->f32[c];
  }
  return out;
}

Result Flatten(const Tensor& x, const AttributeMap& attrs) {
  int64_t axis = 1;
  if (const Attribute* a = Attr(attrs, "axis", Attribute::Kind::kInt)) axis = a->i;
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) return std::nullopt;
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.shape[static_cast<size_t>(i)];
  return Reshaped(x, {outer, outer == 0 ? 0 : x.numel() / std::max<int64_t>(outer, 1)});
}

}  // namespace

bool IsWeightChainOp(std::string_view op_type) {
  static constexpr std::string_view kOps[] = {"Identity", "Cast",    "Reshape", "Transpose",
                                               "Unsqueeze", "Squeeze", "Flatten", "DequantizeLinear"};
  return std::find(std::begin(kOps), std::end(kOps), op_type) != std::end(kOps);
}

std::optional<Tensor> FoldConstantOp(std::string_view op_type, const AttributeMap& attrs,
                                     std::span<const Tensor* const> inputs) {
  if (inputs.empty() || inputs[0] == nullptr) return std::nullopt;
  const Tensor& x = *inputs[0];
  auto in = [&](size_t i) -> const Tensor* { return i < inputs.size() ? inputs[i] : nullptr; };
  if (op_type == "Identity") return x;
  if (op_type == "Cast") return Cast(x, attrs);
  if (op_type == "Reshape") return Reshape(x, in(1), attrs);
  if (op_type == "Transpose") return Transpose(x, attrs);
  if (op_type == "Unsqueeze") return Unsqueeze(x, in(1), attrs);
  if (op_type == "Squeeze") return Squeeze(x, in(1), attrs);
  if (op_type == "Flatten") return Flatten(x, attrs);
  if (op_type == "DequantizeLinear") return Dequantize(x, in(1), in(2), attrs);
  return std::nullopt;
}

}  // namespace qrules::internal
