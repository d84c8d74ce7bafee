#!/usr/bin/env bash
# The learning path on a GPU: training speed and the data loader's share, the small and paper
# presets beside segmentation_models_pytorch's Unet(resnet34), torch.compile, the DDP branch
# over NCCL, torchrun. Made from ../shared/gpu-check.sh for the GPU machine as it is: torch
# with CUDA, numpy, PyYAML, safetensors, timm; no OpenCV, MediaPipe or body model, so the data
# is a synthetic packed dataset made with numpy alone (benchmarks/_synthetic_dataset.py; the
# speed of real data of that size) and the training path runs as it must, on torch and numpy.
#
#   bash benchmarks/gpu-check.sh                       # from the repository root, one GPU
#
# The peer is not installed there: its pure-Python package travels in .gpu-carry/ (ignored by
# git; the device tool's `carry: [".gpu-carry"]`), made here once by
#   mkdir -p .gpu-carry && cp -r .bench-peer/lib/python3.*/site-packages/segmentation_models_pytorch \
#     .gpu-carry/ && echo /.gpu-carry/ >> .git/info/exclude
#   DEVICE=cpu COUNT=24 SIZE=64 BATCH=4 EPOCHS=1 BUDGET_S=300 bash benchmarks/gpu-check.sh
#                                                      # its dry run on a CPU
#
# Writes logs, steps.tsv, microbench.json and summary.txt under $OUT (default ./gpu_check_out);
# data and runs under $WORK (default a new /tmp/gpu_check.XXXXXX). Each step runs under
# `timeout` with min(its cap, the time left) and is skipped when too little is left; the whole
# keeps to BUDGET_S seconds (default 420). Knobs: PY, DEVICE (cuda), COUNT (256 samples),
# SIZE (512), BATCH (32), EPOCHS (3), WORKERS (4 gathering threads).
set -o pipefail
OUT=${OUT:-$PWD/gpu_check_out}
mkdir -p "$OUT/logs"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
WORK=${WORK:-$(mktemp -d /tmp/gpu_check.XXXXXX)}
mkdir -p "$WORK/runs"
REPO=$PWD
[ -f "$REPO/learning/trainer.py" ] || { echo "run this from the repository root"; exit 2; }
if [ -z "${PY:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PY=$REPO/.venv/bin/python; else PY=$(command -v python3); fi
fi
DEVICE=${DEVICE:-cuda}
COUNT=${COUNT:-256}
SIZE=${SIZE:-512}
BATCH=${BATCH:-32}
EPOCHS=${EPOCHS:-3}
WORKERS=${WORKERS:-4}
BUDGET_S=${BUDGET_S:-420}
export PYTHONPATH="$REPO:$REPO/.gpu-carry${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export TORCHINDUCTOR_CACHE_DIR="$WORK/inductor" TRITON_CACHE_DIR="$WORK/triton"
START=$(date +%s)
DEADLINE=$((START + BUDGET_S - 20))
STEPS=$OUT/steps.tsv
printf 'step\trc\tseconds\tcap_s\n' > "$STEPS"
SMI_PID=
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits \
    -l 1 > "$OUT/gpu_util.csv" 2>&1 &
  SMI_PID=$!
fi
trap '[ -n "$SMI_PID" ] && kill "$SMI_PID" 2>/dev/null' EXIT

# step NAME CAP_S MIN_S COMMAND...: COMMAND under timeout, its log in $OUT/logs/NAME.log
step() {
  local name=$1 cap=$2 min=$3 left t0 rc
  shift 3
  left=$((DEADLINE - $(date +%s)))
  if [ "$left" -lt "$min" ]; then
    printf '%s\tskipped\t0\t%s\n' "$name" "$left" >> "$STEPS"; echo "=== SKIP $name"; return 99
  fi
  [ "$left" -lt "$cap" ] && cap=$left
  t0=$(date +%s)
  echo "=== STEP $name (cap ${cap}s)"
  timeout -k 10 "$cap" "$@" > "$OUT/logs/$name.log" 2>&1
  rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" "$cap" >> "$STEPS"
  tail -n 8 "$OUT/logs/$name.log"
  echo "=== END $name rc=$rc"
  return $rc
}

# the trainer on the synthetic dataset (timeout runs commands, not shell functions)
TRAIN=("$PY" -m learning.trainer "$WORK/ds" --device "$DEVICE" --workers "$WORKERS")

step env 60 5 "$PY" -c '
import os, sys, torch
print("python", sys.version.split()[0], "| cores", os.cpu_count(), "| torch", torch.__version__,
      "| cuda", torch.version.cuda, torch.cuda.is_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(p.name, f"{p.total_memory / 2**30:.0f} GiB", "| bf16", torch.cuda.is_bf16_supported())
for m in ("numpy", "yaml", "safetensors", "timm", "torchvision", "segmentation_models_pytorch",
          "triton", "cv2", "mediapipe"):
    try:
        print(m, getattr(__import__(m), "__version__", "?"))
    except Exception as exc:
        print(m, "not importable:", type(exc).__name__)'
step dataset 120 20 "$PY" benchmarks/_synthetic_dataset.py "$WORK/ds" --count "$COUNT" --size "$SIZE"
# the small preset: bf16 autocast, channels_last, fused AdamW, the loader's gather threads
step train_small 150 30 "${TRAIN[@]}" --out "$WORK/runs/small" --preset small \
  --epochs "$EPOCHS" --batch "$BATCH"
step train_paper 150 30 "${TRAIN[@]}" --out "$WORK/runs/paper" --preset paper --epochs 2 \
  --batch $((BATCH / 2))
step train_small_compile 180 60 "${TRAIN[@]}" --out "$WORK/runs/compile" --preset small \
  --epochs "$EPOCHS" --batch "$BATCH" --compile
# the GPU's side alone (synthetic tensors on the device) and the loader's alone, the peer too
step microbench 150 30 "$PY" benchmarks/_gpu_microbench.py "$WORK/ds" "$OUT/microbench.json" \
  --device "$DEVICE"
# DistributedDataParallel over NCCL (one GPU: a process group of one, WORLD_SIZE 2 claimed so
# that the trainer takes its distributed branch), and torchrun's single process
step ddp_nccl 120 30 "$PY" benchmarks/_ddp_one_gpu.py "$WORK/ds" --out "$WORK/runs/ddp" \
  --device "$DEVICE" --epochs 2 --batch "$BATCH" --workers "$WORKERS"
step torchrun1 120 30 "$PY" -m torch.distributed.run --standalone --nproc_per_node 1 \
  -m learning.trainer "$WORK/ds" --out "$WORK/runs/torchrun1" --device "$DEVICE" --epochs 2 \
  --batch "$BATCH" --workers "$WORKERS"

[ -n "$SMI_PID" ] && kill "$SMI_PID" 2>/dev/null
SMI_PID=
{
  echo "## steps"; cat "$STEPS"
  for run in "$WORK"/runs/*; do
    [ -f "$run/metrics.csv" ] || continue
    echo "## $(basename "$run"): epoch, images/s, share of time waiting for data, val °"
    awk -F, 'NR > 1 {printf "  %s  %8.1f img/s  wait %5.1f %%  val %.2f\n", $1, $10, 100 * $11, $7}' \
      "$run/metrics.csv"
  done
  echo "## microbench"; cat "$OUT/microbench.json" 2>/dev/null
} | tee "$OUT/summary.txt"
echo "total $(( $(date +%s) - START )) s"
exit 0
