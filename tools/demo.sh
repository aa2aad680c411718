#!/bin/sh
# make demo: write ResNet-50 as a frozen GraphDef, inspect it, run it on both runtimes, then
# optimize it with the shipped policy (policies/default.bin) and print the before/after table.
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
echo
echo "== grappo optimize $OUT --search ppo   (the shipped policy, zero-shot: ResNet-50 was never"
echo "   in its training corpus; rollouts on the kernel cost model, the best candidates measured;"
echo "   the first run on a machine also times each new kernel once for the cost cache: minutes)"
"$GRAPPO" optimize "$OUT" -o "$(dirname "$GRAPPO")/resnet50.opt.pb" --search ppo --episodes 2 --budget 6 --repeats 20
