// qrules quantize: apply one named spec to one tensor and report the error it adds.
#include <cmath>
#include <fstream>
#include <ostream>
#include <sstream>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "qrules/compile.h"
#include "qrules/fake_quant.h"
#include "qrules/npy.h"

namespace qrules::cli {
namespace {

// Signal-to-quantization-noise ratio in dB (double accumulation); +inf when y == x exactly.
double Sqnr(std::span<const float> x, std::span<const float> y) {
  double signal = 0, noise = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    signal += static_cast<double>(x[i]) * x[i];
    double d = static_cast<double>(x[i]) - y[i];
    noise += d * d;
  }
  if (noise == 0) return INFINITY;
  if (signal == 0) return -INFINITY;
  return 10.0 * std::log10(signal / noise);
}

std::optional<double> ParseNumber(const std::string& s) {
  try {
    size_t used = 0;
    double v = std::stod(s, &used);
    if (used == s.size()) return v;
  } catch (...) {
  }
  return std::nullopt;
}

int Fail(Io& io, const std::string& message) {
  io.err << "qrules quantize: error: " << message << "\n";
  return 1;
}

}  // namespace

int CmdQuantize(const Args& args, Io& io) {
  ParsedArgs a = ParseArgs(args, {"--rules", "--spec", "--out", "-o", "--axis", "--scale", "--zero-point",
                                  "--minval", "--qparams", "--format"},
                           {});
  if (!a.error.empty()) return UsageError(io, "quantize", a.error);
  std::optional<std::string> out_path = a.Value("--out") ? a.Value("--out") : a.Value("-o");
  if (a.positional.size() != 1 || !a.Value("--rules") || !a.Value("--spec") || !out_path) {
    return UsageError(io, "quantize", "expected IN.npy --rules FILE.qrules --spec NAME --out OUT.npy");
  }
  std::string format = a.Value("--format").value_or("text");
  if (format != "text" && format != "json") return UsageError(io, "quantize", "--format is text or json");
  bool explicit_scale = a.Value("--scale").has_value();
  if ((a.Value("--zero-point") || a.Value("--minval")) && !explicit_scale) {
    return UsageError(io, "quantize", "--zero-point and --minval go with --scale");
  }
  if (explicit_scale && a.Value("--qparams")) return UsageError(io, "quantize", "--scale and --qparams exclude each other");

  CompileResult c = CompileFile(*a.Value("--rules"));
  if (!c.ok()) {
    io.err << RenderText(c.diagnostics);
    return c.diagnostics.size() == 1 && c.diagnostics[0].location.line == 0 ? 2 : 1;
  }
  const QuantizationSpec* found = c.rules->FindSpec(*a.Value("--spec"));
  if (!found) {
    std::vector<std::string_view> names;
    for (const auto& [n, s] : c.rules->specs) names.push_back(n);
    auto sugg = SuggestSimilar(*a.Value("--spec"), names);
    return Fail(io, fmt::format("no spec '{}' in {}{}", *a.Value("--spec"), *a.Value("--rules"),
                                sugg.empty() ? "" : fmt::format("; did you mean '{}'?", sugg.front())));
  }
  QuantizationSpec spec = *found;
  NpyResult in = ReadNpyFile(a.positional[0]);
  if (!in.ok()) {
    io.err << RenderText(in.diagnostics);
    return 2;
  }
  const Tensor& x = *in.tensor;
  if (!x.is_float()) {
    return Fail(io, fmt::format("{} holds {} data; quantize takes float32 tensors", a.positional[0],
                                ElementTypeName(x.type)));
  }
  if (auto axis = a.Value("--axis")) {
    auto v = ParseNumber(*axis);
    if (!v || *v != std::floor(*v)) return UsageError(io, "quantize", fmt::format("--axis takes an integer; got '{}'", *axis));
    // Echo what was typed: a value past int64 must not come back as -9223372036854775808.
    if (*v < -64 || *v > 64) {
      return UsageError(io, "quantize", fmt::format("--axis {} is out of range (a tensor has at most 64 axes)", *axis));
    }
    spec.granularity.axis = static_cast<int64_t>(*v);
  }
  BlockLayout layout;
  NumericsStatus st = MakeBlockLayout(x.shape, spec.granularity, &layout);
  if (!st.ok()) {
    std::string hint = st.code == NumericsError::kAxisUnresolved ? " (give --axis)" : "";
    return Fail(io, fmt::format("spec '{}' on a tensor of shape [{}]: {}{}", spec.name, fmt::join(x.shape, ", "),
                                st.message, hint));
  }
  QuantKernel kernel = QuantKernel::ForSpec(spec);
  QParams qp;
  const size_t blocks = static_cast<size_t>(layout.num_blocks());
  if (explicit_scale) {
    if (blocks != 1) return Fail(io, "--scale is for per-tensor specs; use --qparams FILE.json for per-channel and per-block");
    auto s = ParseNumber(*a.Value("--scale"));
    if (!s || !(*s > 0) || !std::isfinite(*s)) return UsageError(io, "quantize", "--scale takes a positive number");
    qp.shape = layout.qparam_shape;
    qp.scale = {static_cast<float>(*s)};
    if (!kernel.floating) {
      IntRange r = QuantRange(spec.dtype, spec.qscheme);
      int32_t zp = (r.qmax + r.qmin + 1) / 2;
      if (auto z = a.Value("--zero-point")) {
        auto v = ParseNumber(*z);
        if (!v || *v != std::floor(*v) || *v < r.qmin || *v > r.qmax) {
          return UsageError(io, "quantize", fmt::format("--zero-point takes an integer in [{}, {}]", r.qmin, r.qmax));
        }
        zp = static_cast<int32_t>(*v);
      }
      qp.zero_point = {zp};
      float minval = static_cast<float>(r.qmin - zp) * qp.scale[0];  // the ZP grid's lowest value
      if (auto m = a.Value("--minval")) {
        auto v = ParseNumber(*m);
        if (!v || !std::isfinite(*v)) return UsageError(io, "quantize", fmt::format("--minval takes a finite number; got '{}'", *m));
        minval = static_cast<float>(*v);
      }
      qp.minval = {minval};
    }
  } else if (auto qfile = a.Value("--qparams")) {
    std::string text;
    if (auto d = ReadFileBounded(*qfile, size_t{64} << 20, text)) {
      io.err << RenderText(std::span<const Diagnostic>(&*d, 1));
      return 2;
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    } catch (const nlohmann::json::exception& e) {  // a number out of range throws even so
      io.err << fmt::format("{}: error: not valid qparams JSON: {} [data-invalid]\n", *qfile, e.what());
      return 2;
    }
    auto numbers = [&](const char* key, bool required) -> std::optional<std::vector<double>> {
      if (!j.is_object() || !j.contains(key)) {
        return required ? std::nullopt : std::optional<std::vector<double>>(std::vector<double>{});
      }
      const auto& v = j[key];
      if (!v.is_array()) return std::nullopt;
      std::vector<double> out;
      for (const auto& e : v) {
        if (!e.is_number()) return std::nullopt;
        out.push_back(e.get<double>());
      }
      return out;
    };
    auto scale = numbers("scale", true);
    auto zp = numbers("zero_point", !kernel.floating);
    auto minval = numbers("minval", false);
    if (j.is_discarded() || !scale || !zp || !minval) {
      return Fail(io, fmt::format("{}: expected a JSON object with number arrays \"scale\"{}", *qfile,
                                  kernel.floating ? "" : " and \"zero_point\" (and optionally \"minval\")"));
    }
    if (scale->size() != blocks || (!kernel.floating && zp->size() != blocks) ||
        (!minval->empty() && minval->size() != blocks)) {
      return Fail(io, fmt::format("{}: the spec gives {} block(s) of qparams (shape [{}]) but the file has {} scale(s)",
                                  *qfile, blocks, fmt::join(layout.qparam_shape, ", "), scale->size()));
    }
    // The same rules as --scale / --zero-point / --minval: scales positive and finite in float32,
    // zero points integers in the dtype's range, minvals finite.
    const IntRange range = kernel.floating ? IntRange{} : QuantRange(spec.dtype, spec.qscheme);
    for (size_t i = 0; i < blocks; ++i) {
      const float s = static_cast<float>((*scale)[i]);
      if (!(s > 0) || !std::isfinite(s)) {
        return Fail(io, fmt::format("{}: scale[{}] is {}; scales must be positive and finite", *qfile, i, (*scale)[i]));
      }
      if (!kernel.floating && ((*zp)[i] != std::floor((*zp)[i]) || (*zp)[i] < range.qmin || (*zp)[i] > range.qmax)) {
        return Fail(io, fmt::format("{}: zero_point[{}] is {}; expected an integer in [{}, {}]", *qfile, i, (*zp)[i],
                                    range.qmin, range.qmax));
      }
      if (!minval->empty() && !std::isfinite((*minval)[i])) {
        return Fail(io, fmt::format("{}: minval[{}] is {}; expected a finite number", *qfile, i, (*minval)[i]));
      }
    }
    qp.shape = layout.qparam_shape;
    for (size_t i = 0; i < blocks; ++i) {
      qp.scale.push_back(static_cast<float>((*scale)[i]));
      if (!kernel.floating) {
        qp.zero_point.push_back(static_cast<int32_t>((*zp)[i]));
        qp.minval.push_back(minval->empty() ? static_cast<float>(kernel.qmin - qp.zero_point.back()) * qp.scale.back()
                                            : static_cast<float>((*minval)[i]));
      }
    }
  } else {
    // Static calculator: qparams from this tensor (§c.3, §c.4, §c.6).
    BlockRange range = ComputeRange(layout, x.f32, spec.float_range_min, spec.float_range_max);
    qp = ComputeQParams(spec, range, layout.qparam_shape);
  }
  Tensor y = Tensor::Float(x.shape, std::vector<float>(x.f32.size()));
  FakeQuantize(kernel, layout, qp, x.f32, y.f32);
  if (auto d = WriteNpyFile(*out_path, y)) {
    io.err << RenderText(std::span<const Diagnostic>(&*d, 1));
    return 2;
  }
  double sqnr = Sqnr(x.f32, y.f32);
  double max_abs = 0;
  for (size_t i = 0; i < x.f32.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(x.f32[i]) - y.f32[i]));
  }
  if (format == "json") {
    nlohmann::ordered_json j;
    j["spec"] = spec.name;
    j["shape"] = x.shape;
    j["qparam_shape"] = layout.qparam_shape;
    j["sqnr_db"] = std::isfinite(sqnr) ? nlohmann::ordered_json(sqnr) : nlohmann::ordered_json(nullptr);
    j["max_abs_error"] = max_abs;
    j["scale"] = qp.scale;
    if (!kernel.floating) {
      j["zero_point"] = qp.zero_point;
      j["minval"] = qp.minval;
    }
    io.out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    io.out << fmt::format("spec {} on [{}] -> {}\n", spec.name, fmt::join(x.shape, ", "), *out_path);
    io.out << fmt::format("sqnr: {:.2f} dB\nmax abs error: {:.6g}\n", sqnr, max_abs);
    auto head = [](const auto& v) {
      std::string s = fmt::format("{}", fmt::join(v.begin(), v.begin() + static_cast<long>(std::min<size_t>(v.size(), 8)), ", "));
      return v.size() > 8 ? s + fmt::format(", ... ({} values)", v.size()) : s;
    };
    io.out << fmt::format("scale: [{}]\n", head(qp.scale));
    if (!kernel.floating) {
      io.out << fmt::format("zero_point: [{}]\n", head(qp.zero_point));
      io.out << fmt::format("minval: [{}]\n", head(qp.minval));
    }
  }
  return 0;
}

}  // namespace qrules::cli
