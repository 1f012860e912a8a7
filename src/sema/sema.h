// src/sema: parse trees -> QuantizerConfig.  The entry points are Compile/CompileFile in
// include/qrules/compile.h; this header holds what other stages share with sema.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace qrules {

// Reads a whole file, refusing files larger than max_bytes.  On failure returns false and a reason.
bool ReadFile(const std::string& path, size_t max_bytes, std::string& text, std::string& error);

// The op types that are the key op of a registered graph-mode pattern (grammar/SEMANTICS.md §b.5): the
// only op types whose op-level specs can ever apply.
std::span<const std::string_view> RegisteredPatternKeyOpTypes();

}  // namespace qrules
