#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (libFuzzer + ASan + UBSan) and runs each
# for a bounded time on a copy of its seed corpus, so the repository is never modified.
#
#   tests/fuzz/run_fuzz.sh                                   # every target, 30 s each
#   FUZZ_SECONDS=600 FUZZ_TARGETS="onnx npy" tests/fuzz/run_fuzz.sh
#
# Targets (corpus):  parse (corpus/), onnx, npy, yaml, plan_json, qir, module_map (corpus_<name>/).
#
# Environment: FUZZ_TARGETS (space-separated names, with or without the _fuzzer suffix; default
# all), FUZZ_SECONDS (per target, default 30), FUZZ_BUILD_DIR (default <repo>/build-fuzz),
# FUZZ_JOBS (build parallelism, default 2), FUZZ_ARTIFACTS (where crash reproducers and logs are
# kept, default $FUZZ_BUILD_DIR/fuzz-artifacts, one directory per target), FUZZ_ARGS (extra
# libFuzzer flags for every target, e.g. "-fork=2 -ignore_crashes=1" to keep going after a crash
# and collect several reproducers).  Every selected target runs even when an earlier one fails;
# the script prints one summary line per target (seconds, executions, crashes) and exits non-zero
# when any target found a crash, a leak, a timeout, an out-of-memory or an invariant violation.
# Replay a reproducer with
#   $FUZZ_BUILD_DIR/tests/fuzz/<target>_fuzzer <reproducer>
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-2}
artifacts=${FUZZ_ARTIFACTS:-$build/fuzz-artifacts}
all_targets="parse onnx npy yaml plan_json qir module_map"

# -max_len per format: binary formats get room for the seed models; text formats stay small
# (module maps up to 32 KiB so that the larger seed maps are not truncated).
max_len_of() {
  case "$1" in
    onnx|npy) echo 65536 ;;
    module_map) echo 32768 ;;
    *) echo 8192 ;;
  esac
}
corpus_of() {
  if [ "$1" = parse ]; then echo "$root/tests/fuzz/corpus"; else echo "$root/tests/fuzz/corpus_$1"; fi
}

targets=()
for t in ${FUZZ_TARGETS:-$all_targets}; do
  t=${t%_fuzzer}
  case " $all_targets " in
    *" $t "*) targets+=("$t") ;;
    *) echo "run_fuzz.sh: unknown target '$t' (known: $all_targets)" >&2; exit 2 ;;
  esac
done

CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQRULES_FUZZ=ON \
  -DQRULES_BUILD_TESTS=OFF -DQRULES_BUILD_BENCH=OFF -DQRULES_BUILD_EXAMPLES=OFF -DQRULES_INSTALL=OFF >/dev/null
cmake --build "$build" --target "${targets[@]/%/_fuzzer}" -j"$jobs"

# UBSan reports carry a stack (the fuzzers abort on the first report: -fno-sanitize-recover).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=0
summary=()
for t in "${targets[@]}"; do
  exe="$build/tests/fuzz/${t}_fuzzer"
  mkdir -p "$work/$t/artifacts"
  cp -r "$(corpus_of "$t")" "$work/$t/corpus"
  log="$work/$t/log"
  echo "run_fuzz.sh: ${t}_fuzzer for ${seconds}s" >&2
  start=$(date +%s)
  status=0
  # stdin from /dev/null: nothing the fuzzer runs may wait for a terminal.  The outer timeout only
  # guards against a fuzzer that stops answering; libFuzzer enforces -timeout per input itself.
  timeout -k 10 $((seconds + 300)) "$exe" "$work/$t/corpus" \
    -max_total_time="$seconds" -max_len="$(max_len_of "$t")" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/$t/artifacts/" -print_final_stats=1 ${FUZZ_ARGS:-} </dev/null >"$log" 2>&1 || status=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  # -fork mode prints no final stats; its progress lines start with "#<executions>: cov: ...".
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9][0-9]*\): cov:.*/\1/p' "$log" | tail -n 1)
  crashes=$(find "$work/$t/artifacts" -type f | wc -l)
  mkdir -p "$artifacts/$t"
  cp "$log" "$artifacts/$t/${t}_fuzzer.log"
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    cp "$work/$t/artifacts/"* "$artifacts/$t/" 2>/dev/null || true
    echo "run_fuzz.sh: ${t}_fuzzer failed (exit $status); reproducers and log in $artifacts/$t:" >&2
    ls -l "$artifacts/$t" >&2 || true
    # The report: from the first sanitizer/libFuzzer/invariant message on, at most 60 lines.
    first=$(grep -n -m1 -E '^==[0-9]+==|invariant violated|runtime error:' "$log" | cut -d: -f1 || true)
    if [ -n "$first" ]; then sed -n "${first},$((first + 59))p" "$log" >&2; else tail -n 60 "$log" >&2; fi
  fi
  summary+=("$(printf '%-18s %5ss  %12s execs  %3s crash(es)%s' "${t}_fuzzer" "$elapsed" "${execs:-?}" "$crashes" \
    "$([ "$status" -ne 0 ] && echo "  exit $status" || true)")")
done

echo "run_fuzz.sh: summary (FUZZ_SECONDS=$seconds per target)"
printf '  %s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "run_fuzz.sh: at least one target failed; reproducers in $artifacts/<target>/" >&2
  exit 1
fi
echo "run_fuzz.sh: no crash in ${#targets[@]} target(s)"
