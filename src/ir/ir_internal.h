// Private helpers shared by the IR stage's files.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "qrules/ir.h"
#include "qrules/tensor.h"

namespace qrules::internal {

// "float32", "int64", ... (the IR's own spelling; same as NumPy's names).
std::string_view DtypeName(ElementType t);
// Every dtype name the IR text format accepts, including ones without an ElementType.
std::span<const std::string_view> KnownDtypeNames();
// Whether `name` is a known dtype; sets `*type` to its ElementType, or nullopt when the dtype has
// none (float16, float64, ..., unknown).
bool ParseDtypeName(std::string_view name, std::optional<ElementType>* type);

// IR text quoting: identifiers stay bare, everything else becomes a "..." string with \" \\ \n \t.
bool IsIdentifier(std::string_view s);
std::string Quote(std::string_view s);
std::string NameOrQuote(std::string_view s);
// Shortest round-trip text of a float ("1", "0.1", "-inf", "nan").
std::string FormatFloat(float v);

// "" (the root) or dot-separated non-empty names: the one rule for module names, in IR text and
// in module maps.
bool IsModuleName(std::string_view fqn);

// IEEE binary16 bits to float32 (exact: every half is a float).
float HalfToFloat(uint16_t h);

// The export idioms of a built model (idioms.cc); ModelBuilder stores them in the model.
ExportIdioms FindExportIdioms(const Model& model);

}  // namespace qrules::internal
