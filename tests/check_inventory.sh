#!/usr/bin/env bash
# The test inventory: every Catch test case of every test executable is registered as exactly one
# ctest entry ("EXE:NAME"), and every "EXE:" entry is one test case.  A name that ctest cannot
# carry (a ';' splits it into two filters that match nothing) or a test case that was never
# registered fails here, so the count ctest reports is the count of test cases that ran.
# Usage: check_inventory.sh CTEST BUILD_DIR EXE_NAME=EXE_PATH...
set -euo pipefail
ctest_cmd=$1 build_dir=$2
shift 2
registered=$(mktemp) listed=$(mktemp)
trap 'rm -f "$registered" "$listed"' EXIT
"$ctest_cmd" -N --test-dir "$build_dir" | sed -n 's/^ *Test *#[0-9]*: //p' | sort > "$registered"
for pair in "$@"; do
  name=${pair%%=*} exe=${pair#*=}
  # Catch 2 exits with the number of test cases it listed, so the status is not an error.
  names=$("$exe" --list-test-names-only) || true
  printf '%s\n' "$names" | sed '/^$/d' | sed "s|^|$name:|" >> "$listed"
done
sort -o "$listed" "$listed"
cases=$(wc -l < "$listed")
prefixes=$(printf '%s\n' "$@" | sed 's/=.*//' | paste -sd'|')
missing=$(comm -23 "$listed" <(grep -E "^($prefixes):" "$registered") || true)
extra=$(comm -13 "$listed" <(grep -E "^($prefixes):" "$registered") || true)
dups=$(uniq -d "$listed")
status=0
if [[ -n "$missing" ]]; then
  echo "test cases with no ctest entry of their own (a ';' in the name splits it):"; echo "$missing"; status=1
fi
if [[ -n "$extra" ]]; then echo "ctest entries that name no test case:"; echo "$extra"; status=1; fi
if [[ -n "$dups" ]]; then echo "test cases listed twice:"; echo "$dups"; status=1; fi
if ((cases == 0)); then echo "no test cases found"; status=1; fi
echo "$cases Catch test cases in $# executables, each registered as one ctest entry"
exit $status
