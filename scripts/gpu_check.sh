#!/usr/bin/env bash
# Check the CuPy (and PyTorch CUDA) path in one go on a machine with an NVIDIA GPU:
#   1. which backends work here;
#   2. every test that runs on the cupy backend (they are skipped on machines without a GPU);
#   3. a short timing: scratchnet on CuPy against PyTorch CUDA eager, batch 128 and 1024;
#   4. kernel launches per training step on both (CUPTI, through PyTorch's profiler).
# Needs scratchnet installed (pip install -e ".[test,cuda12]" or [cuda13]) and, for step 3, PyTorch
# with CUDA. Output: the test summary and benchmark tables on stdout, files under ${OUT:-out}/gpu.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-out}/gpu"
mkdir -p "$out"
# some GPU machines have python3 but no python
python="${PYTHON:-$(command -v python || command -v python3)}"

"$python" - <<'PY'
import scratchnet as sn
report = sn.available_backends()
for name, status in report.items():
    print(f"{name:<17} {'available' if status.available else 'unavailable: ' + status.reason}")
if not report["cupy"].available:
    raise SystemExit("no usable CuPy GPU here: nothing to check")
PY

# every step runs even when an earlier one fails (one call on a lent GPU must tell everything);
# the script's exit status says whether any failed
failed=0
"$python" -m pytest tests -k "cupy" -p no:cacheprovider -q -o addopts="" -rfEs 2>&1 | tee "$out/pytest.txt" || failed=1

"$python" -m benchmarks.run --backend cupy --device cuda --suite all --frameworks scratchnet,torch \
    --epochs 2 --repeats 2 --no-memory --out "$out" 2>&1 | tee "$out/benchmark.txt" || failed=1

"$python" -m benchmarks.gpu_launches --batch-size 128 1024 --steps 20 --out "$out" 2>&1 \
    | tee "$out/launches.txt" || failed=1
exit "$failed"
