#!/bin/sh
# make demo: write ResNet-50 as a frozen GraphDef, inspect it, run it on both runtimes, then
# optimize it with the shipped policy (policies/default.bin) and print the before/after table;
# then, when the trained ResNet-50 is in the models cache (make models), quantize it to int8 and
# print the kept/refused verdict on real labelled top-1.
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
echo
# The trained ResNet-50 (make models; docs/models.md) quantized and judged on real labelled
# images: a 500-image subset of its labelled test split keeps this step to a few minutes.
MODELS=${GRAPPO_MODELS:-$HOME/.cache/grappo/models}
TRAINED=$MODELS/resnet50-fmnist
if [ -f "$TRAINED/saved_model/saved_model.pb" ] && [ -d "$TRAINED/calib/images" ] && [ -f "$TRAINED/eval/labels.txt" ]; then
    N=${DEMO_EVAL_IMAGES:-500}
    SUBSET=$(dirname "$GRAPPO")/demo-eval-$N
    rm -rf "$SUBSET" && mkdir -p "$SUBSET/images"
    ls "$TRAINED/eval/images" | LC_ALL=C sort | head -n "$N" | while read -r f; do
        ln -s "$TRAINED/eval/images/$f" "$SUBSET/images/$f"
    done
    head -n "$N" "$TRAINED/eval/labels.txt" > "$SUBSET/labels.txt"
    echo "== grappo optimize $TRAINED/saved_model --search grappler+int8   (the trained ResNet-50,"
    echo "   calibrated on its 64 calibration images, kept or refused on real top-1 against $N"
    echo "   labelled test images: a drop of at most 0.5 pp)"
    "$GRAPPO" optimize "$TRAINED/saved_model" -o "$(dirname "$GRAPPO")/resnet50-fmnist.int8.pb" \
        --search grappler+int8 --calibration "$TRAINED/calib/images" \
        --eval "$SUBSET/images" --labels "$SUBSET/labels.txt" \
        --mean 0.286,0.286,0.286 --std 0.353,0.353,0.353 --max-accuracy-drop 0.005 --repeats 10
else
    echo "== no trained ResNet-50 in $TRAINED: \`make models\` trains it from Debian's dataset-fashion-mnist (about an hour on 2 cores, resumable); then \`make demo\` also judges its int8 model on real labelled top-1"
fi
