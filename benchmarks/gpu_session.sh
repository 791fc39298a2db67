#!/usr/bin/env bash
# The one prepared GPU check (issues 4 and 8), for a session that is lent a device machine:
#
#     run(command="bash benchmarks/gpu_session.sh", timeout_s=590)
#
# It uses the device image's python3 (torch with CUDA, numpy, scipy, matplotlib, tqdm, pytest are
# there) and runs the package from src/ without installing it.  Steps, each under its own time
# limit so the whole fits one 10-minute call (run the same command again to continue: every
# figS8 step resumes from its results store):
#   1. the card (nvidia-smi) and the CUDA tests (tests that skip without a GPU);
#   2. benchmarks/bench_figS8.py on cuda: seconds per figS8 point and model at N = 100, 200, old
#      recipes vs the registry's (training scaled from <= 3 epochs), for the GPU/CPU ratio
#      (the CPU numbers are in BENCHMARKS.md "figS8 cost");
#   3. figS8 --full on cuda (the registry's budgets, 10 repeats) into a copy of docs/data/figS8-full:
#      its AMP points are reused (their keys did not change), every other model runs; stopped at
#      its time limit, the store keeps the finished points (rerun to continue);
#   4. fig4b --full on cuda (CPU: 104-118 s on the 2-core VM, REPRODUCTION.md);
#   5. bench_batching on cuda: R=1 vs R=50 stacked repeats for FLA and SA at D=20, N=100, P=10000.
# Everything lands in $OUT (at most 8 files come back): gpu.txt, log.txt, figS8-full.tar.gz,
# fig4b.tar.gz.  Unpack figS8-full.tar.gz over docs/data/ to keep the points.
#
# SMOKE=1 DEVICE=cpu bash benchmarks/gpu_session.sh   checks the plumbing on a CPU at quick sizes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/gpu-session}
DEVICE=${DEVICE:-cuda}
SMOKE=${SMOKE:-0}
PY=${PYTHON:-python3}
RUNS=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
if [ "$SMOKE" = 1 ]; then SIZE=--quick; LIM=(60 60 60 60 60); else SIZE=--full; LIM=(60 120 200 120 60); fi
CLI=("$PY" -m spinglass_icl)
step() { echo "== $(date -u +%T) $*"; }
timed() {  # timed LIMIT NAME CMD...: wall seconds of CMD (killed after LIMIT s; its store keeps finished points)
    local lim=$1 name=$2 t0 rc; shift 2
    t0=$EPOCHREALTIME; timeout "$lim" "$@"; rc=$?
    echo "TIME $name $("$PY" -c "print(round($EPOCHREALTIME - $t0, 1))") s (rc $rc; 124 = stopped at ${lim} s)"
}
{
    step "card"
    if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; fi | tee "$OUT/gpu.txt"
    "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/gpu.txt"

    step "CUDA tests"
    timed "${LIM[0]}" cuda-tests "$PY" -m pytest -q -p no:cacheprovider tests/test_architectures.py tests/test_training.py -k cuda

    step "figS8 point cost per model on $DEVICE, old vs new recipes"
    if [ "$SMOKE" = 1 ]; then BN=(--N 20 --cap 1); else BN=(--N 100,200 --cap 3); fi
    [ "$SMOKE" = 1 ] || timed "${LIM[1]}" bench-figS8 "$PY" benchmarks/bench_figS8.py --device "$DEVICE" "${BN[@]}"

    step "figS8 $SIZE on $DEVICE, reusing the shipped AMP points"
    mkdir -p "$RUNS/full"
    [ "$SMOKE" = 1 ] || cp -r docs/data/figS8-full "$RUNS/full/figS8"
    timed "${LIM[2]}" figS8 "${CLI[@]}" reproduce figS8 $SIZE --device "$DEVICE" --out "$RUNS/full"
    tar -czf "$OUT/figS8-full.tar.gz" -C "$RUNS/full" --transform 's,^figS8,figS8-full,' figS8

    step "fig4b $SIZE on $DEVICE"
    timed "${LIM[3]}" fig4b "${CLI[@]}" reproduce fig4b $SIZE --device "$DEVICE" --out "$RUNS/fig4b"
    tar -czf "$OUT/fig4b.tar.gz" -C "$RUNS/fig4b" fig4b

    step "batching R=1 vs R=50 on $DEVICE"
    if [ "$SMOKE" = 1 ]; then B=(--D 4 --N 20 --P 600 --R 4 --epochs 2); else B=(--P 10000 --R 50 --epochs 5 --trials 2); fi
    timed "${LIM[4]}" batching "$PY" benchmarks/bench_batching.py --device "$DEVICE" "${B[@]}"
} 2>&1 | tee "$OUT/log.txt"
rm -rf "$RUNS"
