#!/bin/sh
# make bench-runtime: time the unrewritten ResNet-50 and BERT-base (seq 128, batch 1) on the fast
# runtime with 2 and 1 threads and append the rows to bench/RESULTS.md. The "of peak" column
# divides each model's GFLOP/s by the gemm probe's (a 1024^3 fp32 MatMul through the same
# runtime) measured in the same run with the same threads. Not part of make test.
set -eu
GRAPPO=${1:-build/grappo}
REPEATS=${REPEATS:-30}
DIR=$(dirname "$GRAPPO")
OUT=bench/RESULTS.md
[ -f "$DIR/resnet50.pb" ] || "$GRAPPO" zoo resnet50 -o "$DIR/resnet50.pb"
[ -f "$DIR/bert-base.pb" ] || "$GRAPPO" zoo bert-base -o "$DIR/bert-base.pb"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
isa=$(ONEDNN_VERBOSE=1 "$GRAPPO" run zoo:gemm 2>/dev/null | sed -n 's/.*isa:\(.*\)/\1/p' | head -n 1)
rows=""
for threads in 2 1; do
    echo "bench: gemm probe, $threads thread(s)" >&2
    probe=$("$GRAPPO" run zoo:gemm --threads "$threads" --repeat "$REPEATS" --markdown-row)
    peak=$(echo "$probe" | awk -F'|' '{gsub(/ /, "", $9); print $9}')
    rows="$rows$(echo "$probe" | sed 's/ |$/ | 100% |/')
"
    for model in resnet50 bert-base; do
        echo "bench: $model, $threads thread(s), $REPEATS runs" >&2
        row=$("$GRAPPO" run "$DIR/$model.pb" --threads "$threads" --repeat "$REPEATS" --markdown-row)
        frac=$(echo "$row" | awk -F'|' -v p="$peak" '{gsub(/ /, "", $9); printf "%.0f%%", 100 * $9 / p}')
        rows="$rows$(echo "$row" | sed "s/ |\$/ | $frac |/")
"
    done
done
{
    echo
    echo "### $(date -u '+%Y-%m-%d %H:%M UTC') — fast runtime, unrewritten graphs, batch 1"
    echo
    echo "Machine: $cpu, $(nproc) cores, oneDNN ISA: ${isa:-?}. Command: \`make bench-runtime\` (REPEATS=$REPEATS: one"
    echo "warm-up run, then $REPEATS timed runs per row; times in ms; 95% CI of the mean)."
    echo
    echo "| model | runtime | threads | median ms | min | max | 95% CI | GFLOP/s | peak memory | of gemm peak |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s' "$rows"
} >> "$OUT"
tail -n 8 "$OUT"
