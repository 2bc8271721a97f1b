#!/usr/bin/env bash
# The prepared GPU check (issue "Performance, measured honestly"): at most ~5 minutes, unattended,
# on a CUDA machine with no network. Run from the repository root:
#
#     OUT=gpu-report bash benchmarks/gpu_check.sh
#
# It needs no install: trajlen runs from the checkout (PYTHONPATH); the machine's own python3 must
# have torch with CUDA, numpy, scipy, numba, pandas, pyarrow, tqdm, joblib and pytest (the nvidia-h200
# image of this workplace has them all). Missing packages can be brought as wheels in .whl/ (then
# installed with --no-index into /tmp/site). It writes OUT/env.txt, OUT/cuda_tests.txt and
# OUT/gpu_report.{json,md}; until it has run, the CUDA path is unmeasured (BENCHMARKS.md says so).
set -u
OUT=${OUT:-gpu-report}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
export TRAJLEN_CACHE_DIR="${TRAJLEN_CACHE_DIR:-/tmp/trajlen-cache}"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
{
  date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  python3 -c "import torch, numpy, scipy, numba; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), '| numpy', numpy.__version__, '| scipy', scipy.__version__, '| numba', numba.__version__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
# the CUDA tests (and the batched solver's own tests, which exercise the same code on the CPU)
timeout 120 python3 -m pytest -q -p no:cacheprovider -m cuda tests/test_solve_batched.py \
  > "$OUT/cuda_tests.txt" 2>&1
echo "cuda tests: exit $? ($(tail -1 "$OUT/cuda_tests.txt"))"
# the Table 2 workload on the GPU, float64 and float32, against the CPU kernel
timeout 210 python3 benchmarks/bench_gpu.py --samples 20 --out "$OUT"
echo "bench: exit $?"
