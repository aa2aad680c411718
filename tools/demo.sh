#!/bin/sh
# make demo: write ResNet-50 as a frozen GraphDef, inspect it, run it on both runtimes and
# print a short comparison table. Later stages extend this with optimization.
set -eu
GRAPPO=${1:-build/grappo}
OUT=$(dirname "$GRAPPO")/resnet50.pb
echo "== grappo zoo resnet50 -o $OUT   (deterministic weights, batch-norm calibrated)"
"$GRAPPO" zoo resnet50 -o "$OUT"
echo
echo "== grappo inspect $OUT"
"$GRAPPO" inspect "$OUT" | head -n 14
echo
echo "== grappo run $OUT --repeat 10   (fast runtime: oneDNN kernels, static memory arena)"
"$GRAPPO" run "$OUT" --repeat 10
echo
echo "== the same graph on both runtimes (ms per image, batch 1; the reference runtime is the"
echo "   portable C oracle the fast one is checked against)"
echo
echo "| model | runtime | threads | median ms | min | max | 95% CI | GFLOP/s | peak memory |"
echo "|---|---|---|---|---|---|---|---|---|"
"$GRAPPO" run "$OUT" --runtime ref --repeat 2 --markdown-row
"$GRAPPO" run "$OUT" --repeat 10 --markdown-row
