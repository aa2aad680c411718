#!/bin/sh
# make bench-agent: the evidence for the agent. On the held-out graphs (ResNet-50, BERT-base and
# the five real fixtures - none of them in the training corpus), every method of
# `grappo optimize` runs with SEEDS seeds at the same budget of whole-graph evaluations:
#   ppo (zero-shot, the shipped policy), ppo+tune (--tune-episodes), greedy, random, grappler.
# Each run's report records the objective change measured side by side with the input;
# `grappo compare` turns the reports into one table with Welch t-tests, appended to
# bench/RESULTS.md. Reports are kept in $OUTDIR (default build/bench-agent).
set -eu
GRAPPO=${1:-build/grappo}
DIR=$(dirname "$GRAPPO")
OUT=bench/RESULTS.md
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-10}
BUDGET=${BUDGET:-8}
SEEDS=${SEEDS:-5}
TUNE=${TUNE:-16}
EPISODES=${EPISODES:-8}
EPISODES_LARGE=${EPISODES_LARGE:-2}
SEEDS_LARGE=${SEEDS_LARGE:-$SEEDS}
METHODS=${METHODS:-"ppo ppo+tune greedy random grappler"}
MODELS=${MODELS:-"blazeface-front emotion gender handlandmark-lite selfie resnet50 bert-base"}
OUTDIR=${OUTDIR:-$DIR/bench-agent}
mkdir -p "$OUTDIR"
[ -f "$DIR/resnet50.pb" ] || "$GRAPPO" zoo resnet50 -o "$DIR/resnet50.pb"
[ -f "$DIR/bert-base.pb" ] || "$GRAPPO" zoo bert-base -o "$DIR/bert-base.pb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for m in $MODELS; do
    large=0
    case $m in
    resnet50 | bert-base) model=$DIR/$m.pb large=1 ;;
    *) model=tests/fixtures/real/$m/model.pb ;;
    esac
    for method in $METHODS; do
        search=$method
        extra=""
        episodes=$EPISODES
        [ $large = 1 ] && episodes=$EPISODES_LARGE
        case $method in
        ppo) extra="--episodes $episodes" ;;
        ppo+tune)
            # a PPO iteration on a 180-node graph takes minutes: fine-tuning is measured on the
            # five real graphs only
            [ $large = 1 ] && continue
            search=ppo extra="--episodes $episodes --tune-episodes $TUNE" ;;
        esac
        seeds=$SEEDS
        [ $large = 1 ] && seeds=$SEEDS_LARGE
        for s in $(seq 1 "$seeds"); do
            rep="$OUTDIR/$m.$method.$s.json"
            [ -f "$rep" ] && continue
            echo "bench-agent: $m, $method, seed $s" >&2
            # shellcheck disable=SC2086
            "$GRAPPO" optimize "$model" -o "$tmp/out.pb" --search "$search" $extra --seed "$s" --budget "$BUDGET" \
                --threads "$THREADS" --repeats "$REPEATS" --eval-batches 8 --report "$rep" > /dev/null ||
                echo "bench-agent: $m $method seed $s failed" >&2
        done
    done
done
{
    echo
    echo "### $(date -u '+%Y-%m-%d %H:%M UTC') — agent vs baselines on held-out graphs (\`make bench-agent\`)"
    echo
    echo "Machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores; $THREADS threads."
    echo "Budget $BUDGET whole-graph evaluations per run, $SEEDS seeds; ppo: $EPISODES rollouts ($EPISODES_LARGE on resnet50 and"
    echo "bert-base, $SEEDS_LARGE seeds there); the first rollout compares every rule's best site on the cost model,"
    echo "the others 4 sampled proposals; ppo+tune fine-tunes for $TUNE episodes first (real graphs only)."
    echo "Objective change = ln(latency ratio) + 0.1 ln(memory ratio) + 10 (accuracy drop), from $REPEATS"
    echo "alternating runs of input and result (lower is better; a result that is slower or outside the"
    echo "accuracy budget is not returned and counts 0). p: Welch's t-test of ppo against the method."
    echo
    "$GRAPPO" compare "$OUTDIR"
} >> "$OUT"
tail -n 40 "$OUT"
