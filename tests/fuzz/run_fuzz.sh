#!/usr/bin/env bash
# Builds tests/fuzz/parse_fuzzer with clang (libFuzzer + ASan + UBSan) and runs it for a bounded
# time on a copy of the seed corpus, so the repository is never modified.
#
#   tests/fuzz/run_fuzz.sh                 # 60 s
#   FUZZ_SECONDS=600 tests/fuzz/run_fuzz.sh
#
# Environment: FUZZ_SECONDS (default 60), FUZZ_BUILD_DIR (default <repo>/build-fuzz), FUZZ_JOBS
# (build parallelism, default 2), FUZZ_ARTIFACTS (where crash reproducers are kept, default
# $FUZZ_BUILD_DIR/fuzz-artifacts), FUZZ_ARGS (extra libFuzzer flags, e.g. "-fork=2
# -ignore_crashes=1" to keep going after a crash and collect several reproducers).  Exits non-zero when the fuzzer finds a crash, a leak, a
# timeout or an invariant violation; the reproducer's path is printed.  Replay one with
#   $FUZZ_BUILD_DIR/tests/fuzz/parse_fuzzer <reproducer>
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
artifacts=${FUZZ_ARTIFACTS:-$build/fuzz-artifacts}

CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQRULES_FUZZ=ON \
  -DQRULES_BUILD_TESTS=OFF -DQRULES_BUILD_BENCH=OFF -DQRULES_BUILD_EXAMPLES=OFF -DQRULES_INSTALL=OFF >/dev/null
cmake --build "$build" --target parse_fuzzer -j"$jobs"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/tests/fuzz/corpus" "$work/corpus"
mkdir -p "$work/artifacts"

status=0
# stdin from /dev/null: nothing the fuzzer runs may wait for a terminal.
"$build/tests/fuzz/parse_fuzzer" "$work/corpus" \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 ${FUZZ_ARGS:-} </dev/null || status=$?

if [ "$status" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
  mkdir -p "$artifacts"
  cp "$work/artifacts/"* "$artifacts/" 2>/dev/null || true
  echo "run_fuzz.sh: the fuzzer failed (exit $status); reproducers in $artifacts:" >&2
  ls -l "$artifacts" >&2 || true
  exit $(( status == 0 ? 1 : status ))
fi
echo "run_fuzz.sh: no crash in ${seconds}s"
