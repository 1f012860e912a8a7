#!/usr/bin/env bash
# Writes the large crafted bad inputs of tests/hostile.cmake into OUTDIR (they would bloat the
# repository): a 60,000-deep chain of spec inheritance, a .qir module path 30,000 levels deep,
# a chain of 300 imported files, YAML nested 100,000 deep.  Usage: make_inputs.sh OUTDIR
set -euo pipefail
out=$1
mkdir -p "$out/imports"
awk 'BEGIN {
  print "qrules 1\n";
  print "spec s0 { dtype: int8 }";
  for (i = 1; i < 60000; i++) printf "spec s%d : s%d { dtype: int8 }\n", i, i - 1;
  print "\nglobal {\n  op_state { weight: s59999 }\n}";
}' > "$out/deep_specs.qrules"
awk 'BEGIN {
  print "qrules-ir 1";
  path = "m0"; for (i = 1; i < 30000; i++) path = path ".m" i;
  print "input x : float32[2]";
  printf "op relu \"r\" in \"%s\" (x) -> y : float32[2]\n", path;
  print "output y";
}' > "$out/deep_modules.qir"
for i in $(seq 0 299); do
  printf 'qrules 1\n\nimport "f%d.qrules"\n' $((i + 1)) > "$out/imports/f$i.qrules"
done
printf 'qrules 1\n\nspec last { dtype: int8 }\n' > "$out/imports/f300.qrules"
awk 'BEGIN { s = "a: "; for (i = 0; i < 100000; i++) s = s "["; for (i = 0; i < 100000; i++) s = s "]"; print s }' \
  > "$out/deep_flow.yaml"
