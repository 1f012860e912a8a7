// Resolution benchmark (issue 3): resolve N ops (default 1,000,000) against 1,000 op_name regex
// rules, single thread, end to end (rule compilation + Resolve), against a baseline measured in the
// same run: a loop of RE2::FullMatch of every rule on every op name (timed on a sample of names
// and scaled, since the full loop takes minutes).  Also a 10,000-op model end to end.
//
//   build/bench/plan_bench [--ops N] [--rules R] [--runs K]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <re2/re2.h>

#include "qrules/compile.h"
#include "qrules/ir.h"
#include "qrules/plan.h"
#include "qrules/rule_table.h"

using Clock = std::chrono::steady_clock;

static double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

static double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A chain of `add` ops named op<k><3 digits>, 100 per module "layers.<m>".
static std::shared_ptr<const qrules::Model> BuildModel(size_t ops) {
  qrules::ModelBuilder b;
  b.SetName("bench");
  b.AddInput({.name = "x", .shape = {qrules::Dim(1), qrules::Dim(8)}});
  b.AddState({.name = "c", .shape = {qrules::Dim(8)}, .owner = std::string(""), .local_name = std::string("c")});
  std::string prev = "x";
  char name[64];
  for (size_t i = 0; i < ops; ++i) {
    std::snprintf(name, sizeof name, "op%zu%03zu", i / 1000, i % 1000);
    std::string out = std::string("t") + name;
    qrules::OpSpec op;
    op.name = name;
    op.type = "add";
    op.module = "layers." + std::to_string(i / 100);
    op.inputs = {prev, "c"};
    op.outputs = {{.name = out, .shape = {qrules::Dim(1), qrules::Dim(8)}}};
    b.AddOp(std::move(op));
    prev = out;
  }
  b.AddOutput(prev);
  qrules::ModelResult r = std::move(b).Build();
  if (!r.ok()) {
    std::fprintf(stderr, "%s", qrules::RenderText(r.diagnostics).c_str());
    std::exit(1);
  }
  return r.model;
}

// R op_name regexes: /op<k>[0-9]{3}/ for k < R (each matches 1,000 ops of the chain).
static std::string Rules(size_t rules, std::vector<std::string>& patterns) {
  std::string text = "qrules 1\nspec a { dtype: int8 }\nglobal {\n  op_input { *: a }\n";
  for (size_t k = 0; k < rules; ++k) {
    patterns.push_back("op" + std::to_string(k) + "[0-9]{3}");
    text += "  op_name /" + patterns.back() + "/ { op_output: none }\n";
  }
  return text + "}\n";
}

int main(int argc, char** argv) {
  size_t ops = 1'000'000, rules = 1000;
  int runs = 3;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--ops")) ops = std::strtoul(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--rules")) rules = std::strtoul(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::max(1, std::atoi(argv[++i]));
  }
  auto t0 = Clock::now();
  auto model = BuildModel(ops);
  std::printf("plan_bench: %zu ops (model built in %.0f ms), %zu op_name regex rules, %d runs, median\n", ops,
              Ms(Clock::now() - t0), rules, runs);
  std::vector<std::string> patterns;
  std::string text = Rules(rules, patterns);

  // End to end: compile the rules, resolve every op.
  std::vector<double> e2e, compile_ms;
  size_t points = 0;
  for (int r = 0; r < runs; ++r) {
    auto a = Clock::now();
    qrules::CompileResult c = qrules::Compile(std::make_shared<const qrules::Source>("bench.qrules", text));
    auto b = Clock::now();
    qrules::PlanResult p = qrules::Resolve(c.rules, model, qrules::ResolveOptions{.lint = false});
    auto e = Clock::now();
    if (!p.ok()) {
      std::fprintf(stderr, "%s", qrules::RenderText(p.diagnostics).c_str());
      return 1;
    }
    points = p.plan->points.size();
    compile_ms.push_back(Ms(b - a));
    e2e.push_back(Ms(e - a));
  }
  // Baseline: every rule's RE2::FullMatch on every name, on a sample of names.
  std::vector<std::unique_ptr<RE2>> res;
  for (const auto& p : patterns) res.push_back(std::make_unique<RE2>(p, RE2::Quiet));
  const size_t sample = std::min<size_t>(ops, 20'000);
  std::vector<double> base;
  size_t sink = 0;
  for (int r = 0; r < runs; ++r) {
    auto a = Clock::now();
    for (size_t i = 0; i < sample; ++i) {
      const std::string& name = model->op(static_cast<qrules::OpId>(i * (ops / sample))).name;
      int last = -1;
      for (size_t k = 0; k < res.size(); ++k) {
        if (RE2::FullMatch(name, *res[k])) last = static_cast<int>(k);
      }
      sink += static_cast<size_t>(last + 1);
    }
    base.push_back(Ms(Clock::now() - a) * static_cast<double>(ops) / static_cast<double>(sample));
  }
  // The rule table alone: build it, then decide the winning op_name rule of every op (the same
  // question the baseline loop answers: the last rule that fully matches the name).
  qrules::CompileResult rules_only = qrules::Compile(std::make_shared<const qrules::Source>("bench.qrules", text));
  std::vector<double> table_ms;
  size_t table_sink = 0;
  for (int r = 0; r < runs; ++r) {
    auto a = Clock::now();
    auto table = qrules::RuleTable::Build(rules_only.rules->config);
    std::vector<int> hits;
    qrules::RuleTable::Scratch scratch;
    for (size_t i = 0; i < ops; ++i) {
      table->MatchOpName(model->op(static_cast<qrules::OpId>(i)).name, hits, scratch);
      table_sink += hits.empty() ? 0 : static_cast<size_t>(table->op_name_entry(hits.back()).second + 1);
    }
    table_ms.push_back(Ms(Clock::now() - a));
  }
  double m = Median(e2e), bl = Median(base), tm = Median(table_ms);
  std::printf("  baseline: RE2::FullMatch loop      %10.1f ms  (scaled from %zu names; %zu)\n", bl, sample, sink % 7);
  std::printf("  rule table: build + decide all ops %10.1f ms  %.0fx faster (%zu)\n", tm, bl / tm, table_sink % 7);
  std::printf("  full plan: compile + Resolve       %10.1f ms  (%zu fake-quant points)   %.0fx faster\n", m, points, bl / m);
  std::printf("    of which compiling the rules     %10.1f ms\n", Median(compile_ms));

  // A 10,000-op model end to end.
  auto small = BuildModel(10'000);
  std::vector<double> small_ms;
  for (int r = 0; r < std::max(runs, 5); ++r) {
    auto a = Clock::now();
    qrules::CompileResult c = qrules::Compile(std::make_shared<const qrules::Source>("bench.qrules", text));
    qrules::PlanResult p = qrules::Resolve(c.rules, small);
    small_ms.push_back(Ms(Clock::now() - a));
  }
  std::printf("  10,000-op model, compile + Resolve (with lints) %8.1f ms\n", Median(small_ms));
  std::printf("  target (rule table): >= 100x the loop and < 2000 ms: %s\n", bl / tm >= 100 && tm < 2000 ? "met" : "NOT met");
  std::printf("  target (full plan):  >= 100x the loop and < 2000 ms: %s\n", bl / m >= 100 && m < 2000 ? "met" : "NOT met");
  return 0;
}
