#!/bin/sh
# The shipped models, rebuilt: `make models` (or `sh learning/models/make.sh [portrait|booth]`).
#
# Each step skips what an earlier run finished, so the script can be stopped and run again:
# people are rendered in folders of 500, training runs in stretches of at most HOURS (default
# 2) hours, each resumed exactly from the last epoch's checkpoint, and the model is shipped
# (float16 weights, its YAML with this recipe, the held-out report) once training is done.
# WORK (default out/models) holds the people, datasets and runs: about 10 GB each model.
# EPOCHS (default 12) sets the training's length and its cosine schedule: the shipped portrait
# model had EPOCHS=6, so that the whole recipe fit one working session of a 2-core machine
# whose files were not kept from one session to the next (its card says so).
# SEED (default 0) sets training's seed: the shipped model is seed 0's; SEED=1 and SEED=2 train
# and evaluate beside it (run-NAME-seedK, report-NAME-seedK) for the spread over seeds
# (`benchmarks/learning.py seeds`), on the same people, dataset and split.
set -eu
cd "$(dirname "$0")/../.."
BOOTH="${BOOTH:-.venv/bin/booth}"
PY="${PY:-.venv/bin/python}"
WORK="${WORK:-out/models}"
HOURS="${HOURS:-2}"
PEOPLE="0 500 1000 1500"     # first ids of the four folders of 500 people
SIZE=256                     # crop side: the person framing at 256²
EPOCHS="${EPOCHS:-12}"      # 12 where time allows; the card says what the shipped model had
SEED="${SEED:-0}"
mkdir -p "$WORK"

train_and_ship() {  # NAME DATASET
    if [ "$SEED" = 0 ]; then tag="$1"; else tag="$1-seed$SEED"; fi
    run="$WORK/run-$tag"
    if [ -f "$run/state.yaml" ]; then resume="--resume"; else resume=""; fi
    # one stretch; run the script again for the next until the run is done
    $BOOTH train "$2" --out "$run" --preset small --epochs $EPOCHS --batch 8 --lr 0.001 \
        --seed "$SEED" --workers 1 --hours "$HOURS" $resume
    if ! grep -q "^epoch: $EPOCHS\$" "$run/state.yaml"; then
        echo "$1: training continues; run this again for the next stretch"
        return 0
    fi
    [ -f "$WORK/report-$tag/metrics.json" ] || \
        $BOOTH evaluate "$run" --dataset "$2" --out "$WORK/report-$tag" --device cpu
    [ "$SEED" = 0 ] || return 0  # another seed: measured, not shipped
    $PY -m learning.shipping "$run" "$1" --report "$WORK/report-$1" \
        --recipe "EPOCHS=$EPOCHS sh learning/models/make.sh $1 (WORK=$WORK HOURS=$HOURS)"
}

portrait() {
    for k in $PEOPLE; do
        [ -d "$WORK/portrait-$k" ] || $BOOTH simulate people 500 --seed "$k" \
            --lighting portrait --size 512 --out "$WORK/portrait-$k"
    done
    # shellcheck disable=SC2046
    $BOOTH export $(for k in $PEOPLE; do echo "$WORK/portrait-$k"; done) \
        --out "$WORK/ds-portrait" --framing person --size $SIZE --encoding points --seed 0
    train_and_ship portrait "$WORK/ds-portrait"
}

booth() {
    for k in $PEOPLE; do
        # a session left partway by an interrupted run is made again, whole
        [ -f "$WORK/store-$k.done" ] || { rm -rf "$WORK/store/people-$k" && \
            $BOOTH simulate people 500 --seed "$k" --store "$WORK/store" --session "people-$k" \
            --size 512 && touch "$WORK/store-$k.done"; }
    done
    $BOOTH export "$WORK/store" --out "$WORK/ds-booth" --framing person --size $SIZE \
        --encoding points --seed 0
    train_and_ship booth "$WORK/ds-booth"
}

case "${1:-all}" in
    portrait) portrait ;;
    booth) booth ;;
    all) portrait; booth ;;
    *) echo "usage: $0 [portrait|booth|all]" >&2; exit 2 ;;
esac
