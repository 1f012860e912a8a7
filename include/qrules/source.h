// qrules/source.h — source text and positions.
//
// A `Source` owns the text of one input (a .qrules file, a YAML file, an IR text file) and turns byte
// offsets into 1-based line and column numbers on demand.  Every element of the configuration model
// keeps a `SourceRange` (byte offsets into one Source), so that problems found long after parsing —
// during resolution against a model, for instance — can still point at the text that caused them.
//
//   auto src = std::make_shared<const qrules::Source>("rules.qrules", text);
//   qrules::LineColumn lc = src->Locate(42);   // {line, column}, both 1-based, column in bytes
//
// Sources are immutable after construction and safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qrules {

// 1-based line and column; the column counts bytes, as clang and gcc do.
struct LineColumn {
  uint32_t line = 0;
  uint32_t column = 0;
};

class Source {
 public:
  Source(std::string name, std::string text);

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }

  // Line and column of a byte offset (offsets past the end map to the end).
  LineColumn Locate(size_t offset) const;
  // The text of 1-based line `line`, without its line terminator; empty when the source is not
  // quotable.
  std::string_view LineText(uint32_t line) const;
  // Whether diagnostics may quote the text: valid UTF-8 without NUL bytes.  A binary file, or one
  // the user did not mean as text (a key file, /proc/self/environ), is never echoed to a log.
  bool quotable() const { return quotable_; }

 private:
  std::string name_;
  std::string text_;
  std::vector<size_t> line_offsets_;  // byte offset of the start of each line
  bool quotable_ = true;
};

// A half-open byte range [begin, end) in one source.  `source` is null for elements built through
// the C++ API rather than parsed from text.
struct SourceRange {
  std::shared_ptr<const Source> source;
  uint32_t begin = 0;
  uint32_t end = 0;

  bool valid() const { return source != nullptr; }
  // "file:line" of the start, or "" when the element was not parsed from text.
  std::string FileLine() const;
};

}  // namespace qrules
