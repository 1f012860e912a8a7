#include "exec/kernel_util.h"

#include <cmath>

namespace qrules::internal {

int64_t AttrMap::Int(std::string_view name, int64_t def) const {
  const AttrValue* v = Find(name);
  if (v == nullptr) return def;
  if (v->kind == AttrValue::Kind::kFloat) return static_cast<int64_t>(v->f);
  return v->i;
}

float AttrMap::Float(std::string_view name, float def) const {
  const AttrValue* v = Find(name);
  if (v == nullptr) return def;
  if (v->kind == AttrValue::Kind::kInt) return static_cast<float>(v->i);
  return v->f;
}

std::string AttrMap::String(std::string_view name, std::string_view def) const {
  const AttrValue* v = Find(name);
  return v == nullptr ? std::string(def) : v->s;
}

std::vector<int64_t> AttrMap::Ints(std::string_view name) const {
  const AttrValue* v = Find(name);
  if (v == nullptr) return {};
  if (v->kind == AttrValue::Kind::kInt) return {v->i};
  return v->ints;
}

int64_t CheckedNumel(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d == 0) n = 0;
    else if (n != 0) {
      if (__builtin_mul_overflow(n, d, &n) || n > kMaxElements) return -1;
    }
  }
  // A zero dim anywhere makes the product 0, but later dims must still be valid.
  return n;
}

std::string ShapeString(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

KStatus AllocFloat(Tensor* t, std::vector<int64_t> shape) {
  int64_t n = CheckedNumel(shape);
  if (n < 0) return "invalid or too large output shape " + ShapeString(shape);
  t->type = ElementType::kFloat32;
  t->shape = std::move(shape);
  t->f32.resize(static_cast<size_t>(n));
  t->i64.clear();
  return {};
}

KStatus AllocInt(Tensor* t, std::vector<int64_t> shape, ElementType type) {
  int64_t n = CheckedNumel(shape);
  if (n < 0) return "invalid or too large output shape " + ShapeString(shape);
  t->type = type;
  t->shape = std::move(shape);
  t->i64.resize(static_cast<size_t>(n));
  t->f32.clear();
  return {};
}

KStatus AllocLike(Tensor* t, const Tensor& like, std::vector<int64_t> shape) {
  return like.is_float() ? AllocFloat(t, std::move(shape))
                         : AllocInt(t, std::move(shape), like.type);
}

bool DataConsistent(const Tensor& t) {
  int64_t n = CheckedNumel(t.shape);
  if (n < 0) return false;
  size_t have = t.is_float() ? t.f32.size() : t.i64.size();
  return have == static_cast<size_t>(n);
}

bool NormalizeAxis(int64_t axis, int64_t rank, int64_t* out) {
  if (axis < -rank || axis >= rank) return false;
  *out = axis < 0 ? axis + rank : axis;
  return true;
}

bool BroadcastShapes(std::span<const int64_t> a, std::span<const int64_t> b,
                     std::vector<int64_t>* out) {
  size_t r = std::max(a.size(), b.size());
  out->assign(r, 1);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) (*out)[i] = da;
    else if (da == 1) (*out)[i] = db;
    else return false;
  }
  return true;
}

std::vector<int64_t> BroadcastStrides(std::span<const int64_t> in, std::span<const int64_t> out) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t stride = 1;
  size_t off = out.size() - in.size();
  for (size_t i = in.size(); i-- > 0;) {
    s[i + off] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return s;
}

bool ReadInts(const Tensor& t, std::vector<int64_t>* out) {
  if (!DataConsistent(t)) return false;
  if (t.is_float()) {
    out->clear();
    for (float f : t.f32) {
      if (!(f > -9.2e18f && f < 9.2e18f)) return false;  // also rejects NaN
      out->push_back(static_cast<int64_t>(f));
    }
  } else {
    *out = t.i64;
  }
  return true;
}

bool ReadScalar(const Tensor& t, double* out) {
  if (!DataConsistent(t) || t.numel() != 1) return false;
  *out = t.is_float() ? static_cast<double>(t.f32[0]) : static_cast<double>(t.i64[0]);
  return true;
}

}  // namespace qrules::internal
