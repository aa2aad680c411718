#!/bin/sh
# make bench-rewrite: every benchmark graph through each non-learned method of
# `grappo optimize`, on 2 threads, rows appended to bench/RESULTS.md. Each row times the input
# and the result alternately in the same loop ("before" is the unrewritten graph: the `none`
# method), and measures accuracy as fidelity to the input on 16 generated inputs.
set -eu
GRAPPO=${1:-build/grappo}
DIR=$(dirname "$GRAPPO")
OUT=bench/RESULTS.md
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-20}
BUDGET=${BUDGET:-30}
[ -f "$DIR/resnet50.pb" ] || "$GRAPPO" zoo resnet50 -o "$DIR/resnet50.pb"
[ -f "$DIR/bert-base.pb" ] || "$GRAPPO" zoo bert-base -o "$DIR/bert-base.pb"
models=""
for m in blazeface-front emotion gender handlandmark-lite selfie; do models="$models tests/fixtures/real/$m/model.pb"; done
models="$models $DIR/resnet50.pb $DIR/bert-base.pb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
    echo
    echo "### $(date -u '+%Y-%m-%d %H:%M UTC') — rewrites: grappler, grappler+int8, greedy (\`make bench-rewrite\`)"
    echo
    echo "Machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores; $THREADS threads;"
    echo "$REPEATS alternating runs of input and result after one warm-up each (ms: median [min, max]);"
    echo "greedy: --budget $BUDGET graph evaluations. \"before\" is the unrewritten graph (method none)."
    echo
    echo "| model | method | before ms | after ms | speedup | peak mem before | after | top-1 agreement | min cosine | rewrites | optimize s | result kept |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} >> "$OUT"
for model in $models; do
    for method in grappler grappler+int8 greedy; do
        echo "bench-rewrite: $model, $method" >&2
        "$GRAPPO" optimize "$model" -o "$tmp/out.pb" --search "$method" --threads "$THREADS" --repeats "$REPEATS" \
            --budget "$BUDGET" --markdown-row >> "$OUT" || echo "| $model | $method | failed (exit $?) |" >> "$OUT"
    done
done
tail -n 24 "$OUT"
