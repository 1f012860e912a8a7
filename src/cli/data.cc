#include "cli/data.h"

#include <algorithm>
#include <cmath>
#include <ostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "qrules/npy.h"

namespace qrules::cli {
namespace {

void Problem(Io& io, const std::string& file, std::string message) {
  DiagLocation loc;
  loc.file = file;
  Diagnostic d = MakeDiagnostic(DiagCode::kDataInvalid, loc, std::move(message));
  io.err << RenderText(std::span<const Diagnostic>(&d, 1));
}

// Appends `more` to `into` along axis 0 (same type, same trailing dims).
bool Concatenate(Tensor& into, Tensor&& more) {
  if (into.shape.empty() || more.shape.size() != into.shape.size() || into.type != more.type ||
      !std::equal(into.shape.begin() + 1, into.shape.end(), more.shape.begin() + 1)) {
    return false;
  }
  into.shape[0] += more.shape[0];
  into.f32.insert(into.f32.end(), more.f32.begin(), more.f32.end());
  into.i64.insert(into.i64.end(), more.i64.begin(), more.i64.end());
  return true;
}

}  // namespace

std::optional<std::vector<Tensor>> LoadModelInputs(const Model& model, std::string_view flag,
                                                   const std::vector<std::string>& values, Io& io) {
  std::vector<std::string> names;
  for (TensorId id : model.inputs()) names.push_back(model.tensor(id).name);
  const std::string input_list = fmt::format("{}", fmt::join(names, ", "));
  // Which input each value feeds: NAME=PATH when NAME is an input of the model, else a bare path.
  std::vector<std::vector<std::string>> files(names.size());
  for (const std::string& v : values) {
    size_t slot = names.size();
    std::string path = v;
    if (size_t eq = v.find('='); eq != std::string::npos) {
      auto it = std::find(names.begin(), names.end(), v.substr(0, eq));
      if (it != names.end()) {
        slot = static_cast<size_t>(it - names.begin());
        path = v.substr(eq + 1);
      }
    }
    if (slot == names.size()) {
      if (names.size() != 1) {
        io.err << fmt::format("qrules: error: {} {}: the model has {} inputs ({}); give {} NAME=PATH for each\n", flag,
                              v, names.size(), input_list, flag);
        return std::nullopt;
      }
      slot = 0;
    }
    files[slot].push_back(path);
  }
  std::vector<Tensor> out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (files[i].empty()) {
      io.err << fmt::format("qrules: error: {}: no file for the model input '{}' (the model's inputs: {})\n", flag,
                            names[i], input_list);
      return std::nullopt;
    }
    Tensor joined;
    for (size_t f = 0; f < files[i].size(); ++f) {
      const std::string& path = files[i][f];
      NpyResult r = ReadNpyFile(path);
      if (!r.ok()) {
        io.err << RenderText(r.diagnostics);
        return std::nullopt;
      }
      io.err << RenderText(r.diagnostics);  // notes (float64 rounded to float32)
      if (auto problem = ConformToInput(*r.tensor, r.dtype, model.tensor(model.inputs()[i]))) {
        Problem(io, path, fmt::format("{}: {}", flag, *problem));
        return std::nullopt;
      }
      if (r.tensor->is_float()) {
        const auto bad = std::count_if(r.tensor->f32.begin(), r.tensor->f32.end(), [](float v) { return !std::isfinite(v); });
        if (bad > 0) {
          DiagLocation loc;
          loc.file = path;
          Diagnostic d = MakeDiagnostic(
              DiagCode::kDataNonfinite, loc,
              fmt::format("{}: {} of {} values are NaN or infinite; outputs and error figures computed from them are "
                          "not numbers",
                          flag, bad, r.tensor->f32.size()));
          io.err << RenderText(std::span<const Diagnostic>(&d, 1));
        }
      }
      if (f == 0) {
        joined = std::move(*r.tensor);
      } else if (!Concatenate(joined, std::move(*r.tensor))) {
        Problem(io, path, fmt::format("{}: cannot be appended to the earlier files for '{}': its shape [{}] differs "
                                      "after the batch axis from [{}]",
                                      flag, names[i], fmt::join(r.tensor->shape, ", "), fmt::join(joined.shape, ", ")));
        return std::nullopt;
      }
    }
    out.push_back(std::move(joined));
  }
  for (size_t i = 1; i < out.size(); ++i) {
    const int64_t a = out[0].shape.empty() ? 1 : out[0].shape[0];
    const int64_t b = out[i].shape.empty() ? 1 : out[i].shape[0];
    if (a != b) {
      io.err << fmt::format("qrules: error: {}: the inputs disagree on the batch: '{}' has {} samples, '{}' has {}\n",
                            flag, names[0], a, names[i], b);
      return std::nullopt;
    }
  }
  return out;
}

std::optional<Tensor> LoadLabels(const std::string& path, int64_t samples, int64_t classes, Io& io) {
  NpyResult r = ReadNpyFile(path);
  if (!r.ok()) {
    io.err << RenderText(r.diagnostics);
    return std::nullopt;
  }
  const Tensor& t = *r.tensor;
  if (t.is_float()) {
    Problem(io, path, fmt::format("--labels: the file holds {} values; labels are integer class ids", r.dtype));
    return std::nullopt;
  }
  if (static_cast<int64_t>(t.i64.size()) != samples || t.shape.size() > 1) {
    Problem(io, path, fmt::format("--labels: expected {} class ids, one per sample; the file holds {} [{}]", samples,
                                  r.dtype, fmt::join(t.shape, ", ")));
    return std::nullopt;
  }
  for (size_t i = 0; i < t.i64.size(); ++i) {
    if (t.i64[i] < 0 || (classes > 0 && t.i64[i] >= classes)) {
      Problem(io, path, fmt::format("--labels: class id {} at index {} is out of range: the model has {} classes",
                                    t.i64[i], i, classes));
      return std::nullopt;
    }
  }
  return std::move(r.tensor);
}

}  // namespace qrules::cli
