// NumPy .npy reading and writing (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
#include "qrules/npy.h"

#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <sstream>

namespace qrules {
namespace {

constexpr int64_t kMaxElements = int64_t{1} << 40;

struct Dtype {
  ElementType type;
  size_t bytes;
  char kind;  // 'f', 'i', 'u', 'b'
};

// Minimal parser for the header's Python dict literal.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view s) : s_(s) {}

  bool Parse(std::map<std::string, std::string>* strings, std::map<std::string, bool>* bools,
             std::vector<int64_t>* shape, bool* has_shape, std::string* error) {
    Skip();
    if (!Eat('{')) return Fail(error, "the header is not a Python dict ('{' expected)");
    while (true) {
      Skip();
      if (Eat('}')) break;
      std::string key;
      if (!String(&key)) return Fail(error, "expected a quoted key in the header dict");
      Skip();
      if (!Eat(':')) return Fail(error, fmt::format("expected ':' after key '{}'", key));
      Skip();
      if (Peek() == '\'' || Peek() == '"') {
        std::string v;
        if (!String(&v)) return Fail(error, fmt::format("unterminated string value for '{}'", key));
        (*strings)[key] = v;
      } else if (Word("True")) {
        (*bools)[key] = true;
      } else if (Word("False")) {
        (*bools)[key] = false;
      } else if (Eat('(')) {
        *has_shape = true;
        shape->clear();
        while (true) {
          Skip();
          if (Eat(')')) break;
          int64_t v = 0;
          size_t digits = 0;
          while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
            if (v > kMaxElements) return Fail(error, "a dimension in 'shape' is too large");
            v = v * 10 + (s_[pos_++] - '0');
            ++digits;
          }
          if (digits == 0) return Fail(error, "'shape' must be a tuple of non-negative integers");
          if (Peek() == 'L') ++pos_;  // Python 2 longs
          shape->push_back(v);
          Skip();
          if (Eat(')')) break;
          if (!Eat(',')) return Fail(error, "expected ',' or ')' in 'shape'");
        }
      } else {
        return Fail(error, fmt::format("unsupported value for key '{}' in the header", key));
      }
      Skip();
      if (Eat('}')) break;
      if (!Eat(',')) return Fail(error, "expected ',' or '}' in the header dict");
    }
    return true;
  }

 private:
  static bool Fail(std::string* error, std::string message) {
    *error = std::move(message);
    return false;
  }
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  void Skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool Word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  bool String(std::string* out) {
    char q = Peek();
    if (q != '\'' && q != '"') return false;
    ++pos_;
    size_t end = s_.find(q, pos_);
    if (end == std::string_view::npos) return false;
    *out = std::string(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

template <typename T>
T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

NpyResult ReadNpyBytes(std::string_view bytes, std::string_view name) {
  auto fail = [&](std::string message) {
    DiagLocation loc;
    loc.file = std::string(name);
    return NpyResult{std::nullopt, {MakeDiagnostic(DiagCode::kDataInvalid, loc, std::move(message))}};
  };
  if (bytes.size() < 10 || bytes.substr(0, 6) != std::string_view("\x93NUMPY", 6)) {
    return fail("not a NumPy .npy file: expected the magic string '\\x93NUMPY' at the start");
  }
  auto major = static_cast<uint8_t>(bytes[6]);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = Load<uint16_t>(bytes.data() + 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return fail("truncated .npy header");
    header_len = Load<uint32_t>(bytes.data() + 8);
    header_start = 12;
  } else {
    return fail(fmt::format(".npy format version {}.{} is not supported (expected 1.0, 2.0 or 3.0)", major,
                            static_cast<uint8_t>(bytes[7])));
  }
  if (bytes.size() - header_start < header_len) {
    return fail(fmt::format("truncated .npy header: it announces {} bytes but the file has {}", header_len,
                            bytes.size() - header_start));
  }
  std::string_view header = bytes.substr(header_start, header_len);
  std::map<std::string, std::string> strings;
  std::map<std::string, bool> bools;
  std::vector<int64_t> shape;
  bool has_shape = false;
  std::string error;
  if (!HeaderParser(header).Parse(&strings, &bools, &shape, &has_shape, &error)) {
    return fail("malformed .npy header: " + error);
  }
  if (!strings.count("descr")) return fail("malformed .npy header: no 'descr' key");
  if (!has_shape) return fail("malformed .npy header: no 'shape' tuple");
  if (!bools.count("fortran_order")) return fail("malformed .npy header: no 'fortran_order' key");
  if (bools["fortran_order"]) {
    return fail("the array is stored in Fortran order; expected C order (save it with np.ascontiguousarray)");
  }
  const std::string& descr = strings["descr"];
  static const std::map<std::string, Dtype, std::less<>> kDtypes = {
      {"f4", {ElementType::kFloat32, 4, 'f'}}, {"f8", {ElementType::kFloat32, 8, 'f'}},
      {"u1", {ElementType::kUint8, 1, 'u'}},   {"i1", {ElementType::kInt8, 1, 'i'}},
      {"i4", {ElementType::kInt32, 4, 'i'}},   {"i8", {ElementType::kInt64, 8, 'i'}},
      {"b1", {ElementType::kBool, 1, 'b'}}};
  if (descr.size() != 3) {
    return fail(fmt::format("dtype '{}' is not supported (expected <f4, <f8, |u1, |i1, <i4, <i8 or |b1)", descr));
  }
  auto it = kDtypes.find(descr.substr(1));
  if (it == kDtypes.end()) {
    return fail(fmt::format("dtype '{}' is not supported (expected <f4, <f8, |u1, |i1, <i4, <i8 or |b1)", descr));
  }
  const Dtype& dt = it->second;
  char order = descr[0];
  if (order == '>' && dt.bytes > 1) {
    return fail(fmt::format("dtype '{}' is big-endian; expected little-endian ('<')", descr));
  }
  if (order != '<' && order != '|' && order != '=' && !(order == '>' && dt.bytes == 1)) {
    return fail(fmt::format("dtype '{}' has an unknown byte order '{}'", descr, order));
  }
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d > 0 && numel > kMaxElements / d) return fail("the array shape is too large");
    numel *= d;
  }
  size_t data_start = header_start + header_len;
  size_t have = bytes.size() - data_start;
  size_t need = static_cast<size_t>(numel) * dt.bytes;
  if (have < need) {
    return fail(fmt::format("truncated data: shape ({}) of {} needs {} bytes, the file has {}",
                            fmt::join(shape, ", "), descr, need, have));
  }
  if (have > need) {
    return fail(fmt::format("{} bytes of unexpected data after the array of shape ({})", have - need,
                            fmt::join(shape, ", ")));
  }
  Tensor t;
  t.type = dt.type;
  t.shape = shape;
  const char* p = bytes.data() + data_start;
  auto n = static_cast<size_t>(numel);
  if (dt.kind == 'f') {
    t.f32.resize(n);
    if (dt.bytes == 4) {
      std::memcpy(t.f32.data(), p, n * 4);
    } else {
      for (size_t i = 0; i < n; ++i) t.f32[i] = static_cast<float>(Load<double>(p + 8 * i));
    }
  } else {
    t.i64.resize(n);
    for (size_t i = 0; i < n; ++i) {
      switch (dt.type) {
        case ElementType::kUint8: t.i64[i] = static_cast<uint8_t>(p[i]); break;
        case ElementType::kInt8: t.i64[i] = static_cast<int8_t>(p[i]); break;
        case ElementType::kBool: t.i64[i] = p[i] != 0; break;
        case ElementType::kInt32: t.i64[i] = Load<int32_t>(p + 4 * i); break;
        default: t.i64[i] = Load<int64_t>(p + 8 * i); break;
      }
    }
  }
  return NpyResult{std::move(t), {}};
}

NpyResult ReadNpyFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    DiagLocation loc;
    loc.file = path;
    return {std::nullopt, {MakeDiagnostic(DiagCode::kIoError, loc, "cannot open the .npy file")}};
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ReadNpyBytes(ss.str(), path);
}

std::string WriteNpyBytes(const Tensor& tensor) {
  std::string descr;
  size_t item = 1;
  switch (tensor.type) {
    case ElementType::kFloat32: descr = "<f4"; item = 4; break;
    case ElementType::kInt64: descr = "<i8"; item = 8; break;
    case ElementType::kInt32: descr = "<i4"; item = 4; break;
    case ElementType::kInt8: descr = "|i1"; break;
    case ElementType::kUint8: descr = "|u1"; break;
    case ElementType::kBool: descr = "|b1"; break;
  }
  std::string shape;
  if (tensor.shape.size() == 1) {
    shape = fmt::format("({},)", tensor.shape[0]);
  } else {
    shape = fmt::format("({})", fmt::join(tensor.shape, ", "));
  }
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  auto len = static_cast<uint16_t>(header.size());
  out.append(reinterpret_cast<const char*>(&len), 2);
  out += header;
  size_t n = tensor.is_float() ? tensor.f32.size() : tensor.i64.size();
  size_t start = out.size();
  out.resize(start + n * item);
  char* p = out.data() + start;
  for (size_t i = 0; i < n; ++i) {
    switch (tensor.type) {
      case ElementType::kFloat32: std::memcpy(p + 4 * i, &tensor.f32[i], 4); break;
      case ElementType::kInt64: std::memcpy(p + 8 * i, &tensor.i64[i], 8); break;
      case ElementType::kInt32: {
        auto v = static_cast<int32_t>(tensor.i64[i]);
        std::memcpy(p + 4 * i, &v, 4);
        break;
      }
      case ElementType::kBool: p[i] = tensor.i64[i] != 0; break;
      default: p[i] = static_cast<char>(tensor.i64[i]); break;
    }
  }
  return out;
}

std::optional<Diagnostic> WriteNpyFile(const std::string& path, const Tensor& tensor) {
  std::string bytes = WriteNpyBytes(tensor);
  std::ofstream f(path, std::ios::binary);
  if (f) f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    DiagLocation loc;
    loc.file = path;
    return MakeDiagnostic(DiagCode::kIoError, loc, "cannot write the .npy file");
  }
  return std::nullopt;
}

}  // namespace qrules
