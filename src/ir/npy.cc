// NumPy .npy reading and writing (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
#include "qrules/npy.h"

#include "ir/ir_internal.h"

#include <climits>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <sstream>

namespace qrules {
namespace {

constexpr int64_t kMaxElements = int64_t{1} << 40;
// The largest .npy file read: 4 GiB (a billion float32 values), read whole before parsing.
constexpr size_t kMaxNpyFileBytes = size_t{4} << 30;

struct Dtype {
  ElementType type;  // what the values are held as: float32, or an integer type widened to int64
  size_t bytes;
  char kind;  // 'f', 'i', 'u', 'b'
  std::string_view name;  // NumPy's name, for messages
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
      {"f2", {ElementType::kFloat32, 2, 'f', "float16"}}, {"f4", {ElementType::kFloat32, 4, 'f', "float32"}},
      {"f8", {ElementType::kFloat32, 8, 'f', "float64"}}, {"i1", {ElementType::kInt8, 1, 'i', "int8"}},
      {"i2", {ElementType::kInt64, 2, 'i', "int16"}},     {"i4", {ElementType::kInt32, 4, 'i', "int32"}},
      {"i8", {ElementType::kInt64, 8, 'i', "int64"}},     {"u1", {ElementType::kUint8, 1, 'u', "uint8"}},
      {"u2", {ElementType::kInt64, 2, 'u', "uint16"}},    {"u4", {ElementType::kInt64, 4, 'u', "uint32"}},
      {"u8", {ElementType::kInt64, 8, 'u', "uint64"}},    {"b1", {ElementType::kBool, 1, 'b', "bool"}}};
  constexpr std::string_view kReadable = "float16/32/64, int8/16/32/64, uint8/16/32/64 or bool";
  auto it = descr.size() == 3 ? kDtypes.find(descr.substr(1)) : kDtypes.end();
  if (it == kDtypes.end()) {
    return fail(fmt::format("dtype '{}' is not supported (expected {}, little-endian)", descr, kReadable));
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
  NpyResult result;
  result.dtype = std::string(dt.name);
  if (dt.kind == 'f') {
    t.f32.resize(n);
    if (dt.bytes == 4) {
      if (n > 0) std::memcpy(t.f32.data(), p, n * 4);  // an empty vector's data() may be null
    } else if (dt.bytes == 2) {
      for (size_t i = 0; i < n; ++i) t.f32[i] = internal::HalfToFloat(Load<uint16_t>(p + 2 * i));  // exact
    } else {
      size_t inexact = 0;
      for (size_t i = 0; i < n; ++i) {
        const double v = Load<double>(p + 8 * i);
        t.f32[i] = static_cast<float>(v);
        inexact += static_cast<double>(t.f32[i]) != v && v == v;
      }
      DiagLocation loc;
      loc.file = std::string(name);
      result.diagnostics.push_back(MakeDiagnostic(
          DiagCode::kDataConverted, loc,
          inexact == 0 ? "float64 values read as float32 (every value is exact in float32)"
                       : fmt::format("float64 values rounded to float32 ({} of {} changed)", inexact, n)));
    }
  } else {
    t.i64.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const char* e = p + dt.bytes * i;
      switch (dt.kind == 'b' ? 0 : static_cast<int>(dt.bytes) * (dt.kind == 'u' ? -1 : 1)) {
        case 0: t.i64[i] = *e != 0; break;
        case 1: t.i64[i] = static_cast<int8_t>(*e); break;
        case 2: t.i64[i] = Load<int16_t>(e); break;
        case 4: t.i64[i] = Load<int32_t>(e); break;
        case 8: t.i64[i] = Load<int64_t>(e); break;
        case -1: t.i64[i] = static_cast<uint8_t>(*e); break;
        case -2: t.i64[i] = Load<uint16_t>(e); break;
        case -4: t.i64[i] = Load<uint32_t>(e); break;
        default: {
          const uint64_t v = Load<uint64_t>(e);
          if (v > static_cast<uint64_t>(INT64_MAX)) {
            return fail(fmt::format("uint64 value {} at index {} is out of range: qrules holds integer data as int64",
                                    v, i));
          }
          t.i64[i] = static_cast<int64_t>(v);
        }
      }
    }
  }
  result.tensor = std::move(t);
  return result;
}

NpyResult ReadNpyFile(const std::string& path) {
  std::string bytes;
  if (auto d = ReadFileBounded(path, kMaxNpyFileBytes, bytes)) return {std::nullopt, {std::move(*d)}};
  return ReadNpyBytes(bytes, path);
}

std::optional<std::string> ConformToInput(Tensor& t, std::string_view file_dtype, const TensorInfo& input) {
  auto mismatch = [&](std::string_view why) {
    return fmt::format("the model input '{}' is {} {}; the file holds {} [{}]{}", input.name, input.dtype_name,
                       input.shape.ToString(), file_dtype, fmt::join(t.shape, ", "), why);
  };
  if (input.shape.known) {
    bool same = input.shape.rank() == t.shape.size();
    for (size_t i = 0; same && i < t.shape.size(); ++i) {
      const Dim& d = input.shape.dims[i];
      same = d.size < 0 || d.size == t.shape[i];
    }
    if (!same) return mismatch("");
  }
  if (!input.dtype) return std::nullopt;  // a type qrules does not run; the executor says so
  if (IsFloat(*input.dtype)) {
    if (t.is_float()) return std::nullopt;
    constexpr int64_t kExact = int64_t{1} << 24;
    for (size_t i = 0; i < t.i64.size(); ++i) {
      if (t.i64[i] > kExact || t.i64[i] < -kExact) {
        return mismatch(fmt::format(": its value {} at index {} is not exact in float32", t.i64[i], i));
      }
    }
    std::vector<float> f(t.i64.begin(), t.i64.end());
    t = Tensor::Float(std::move(t.shape), std::move(f));
    return std::nullopt;
  }
  if (t.is_float()) return mismatch(": give integer data (which integer a float stands for is a guess)");
  if (*input.dtype == ElementType::kBool) {
    for (size_t i = 0; i < t.i64.size(); ++i) {
      if (t.i64[i] != 0 && t.i64[i] != 1) return mismatch(fmt::format(": its value {} at index {} is not 0 or 1", t.i64[i], i));
    }
  }
  t.type = *input.dtype;
  return std::nullopt;
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
  return WriteFileAtomically(path, WriteNpyBytes(tensor));
}

}  // namespace qrules
