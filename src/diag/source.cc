#include "qrules/source.h"

#include <algorithm>

namespace qrules {

namespace {
// Valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF) without NUL bytes.
bool IsQuotableText(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;
    }
    i += n + 1;
  }
  return true;
}
}  // namespace

Source::Source(std::string name, std::string text) : name_(std::move(name)), text_(std::move(text)) {
  line_offsets_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_offsets_.push_back(i + 1);
  }
  quotable_ = IsQuotableText(text_);
}

LineColumn Source::Locate(size_t offset) const {
  offset = std::min(offset, text_.size());
  auto it = std::upper_bound(line_offsets_.begin(), line_offsets_.end(), offset);
  size_t line_index = static_cast<size_t>(it - line_offsets_.begin()) - 1;
  return {static_cast<uint32_t>(line_index + 1),
          static_cast<uint32_t>(offset - line_offsets_[line_index] + 1)};
}

std::string_view Source::LineText(uint32_t line) const {
  if (!quotable_ || line == 0 || line > line_offsets_.size()) return {};
  size_t begin = line_offsets_[line - 1];
  size_t end = line < line_offsets_.size() ? line_offsets_[line] : text_.size();
  std::string_view s(text_.data() + begin, end - begin);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string SourceRange::FileLine() const {
  if (!source) return {};
  return source->name() + ":" + std::to_string(source->Locate(begin).line);
}

}  // namespace qrules
