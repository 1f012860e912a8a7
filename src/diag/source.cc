#include "qrules/source.h"

#include <algorithm>

namespace qrules {

Source::Source(std::string name, std::string text) : name_(std::move(name)), text_(std::move(text)) {
  line_offsets_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_offsets_.push_back(i + 1);
  }
}

LineColumn Source::Locate(size_t offset) const {
  offset = std::min(offset, text_.size());
  auto it = std::upper_bound(line_offsets_.begin(), line_offsets_.end(), offset);
  size_t line_index = static_cast<size_t>(it - line_offsets_.begin()) - 1;
  return {static_cast<uint32_t>(line_index + 1),
          static_cast<uint32_t>(offset - line_offsets_[line_index] + 1)};
}

std::string_view Source::LineText(uint32_t line) const {
  if (line == 0 || line > line_offsets_.size()) return {};
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
