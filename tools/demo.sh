#!/bin/sh
# make demo: write ResNet-50 as a frozen GraphDef, inspect it and run it on the reference
# runtime. Later stages extend this with optimization.
set -eu
GRAPPO=${1:-build/grappo}
OUT=$(dirname "$GRAPPO")/resnet50.pb
echo "== grappo zoo resnet50 -o $OUT   (deterministic weights, batch-norm calibrated)"
"$GRAPPO" zoo resnet50 -o "$OUT"
echo
echo "== grappo inspect $OUT"
"$GRAPPO" inspect "$OUT" | head -n 20
echo "   ..."
echo
echo "== grappo run $OUT --repeat 3   (reference runtime: portable C, the numerical oracle)"
"$GRAPPO" run "$OUT" --repeat 3
