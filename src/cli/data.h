// Feeding a model from .npy files: the --input / --calibrate / --labels flags of every command
// that reads data.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "qrules/ir.h"
#include "qrules/tensor.h"

namespace qrules::cli {

// One tensor per graph input of `model`, in the model's input order, from the values of `flag`:
// `NAME=PATH` (repeatable; several files for one input are concatenated along axis 0, in the
// order given), or a bare `PATH` when the model has one input.  Each file is read, converted to
// what its input declares (ConformToInput), and every input must agree on the batch (axis 0).
// On a problem, prints a diagnostic that names the flag and the file, and returns nullopt.
std::optional<std::vector<Tensor>> LoadModelInputs(const Model& model, std::string_view flag,
                                                   const std::vector<std::string>& values, Io& io);

// Integer class ids for `samples` samples (--labels): one integer per sample, each in
// [0, classes).  Prints the problem, naming the file, and returns nullopt otherwise.
std::optional<Tensor> LoadLabels(const std::string& path, int64_t samples, int64_t classes, Io& io);

}  // namespace qrules::cli
