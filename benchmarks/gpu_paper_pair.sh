#!/usr/bin/env bash
# The paper's MED-MNIST pair (baseline + WBF + EARL; 5,000 / 1,000 / 1,000 images,
# 640 px, YOLOv5-S, configs/protocol/paper_pair_gpu.py) on ONE GPU, both arms
# training at the same time, then one combined report with the paired bootstrap.
# Prints the wall time of each stage. Usage (from the repository root):
#   bash benchmarks/gpu_paper_pair.sh [OUT_DIR]        # default work_dirs/gpu_paper_pair
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-work_dirs/gpu_paper_pair}"
DATA="${DATA_ROOT:-data/med_mnist_paper}"
SCALE=configs/protocol/paper_pair_gpu.py
t0=$(date +%s)
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))"
if [ ! -f "$DATA/annotations/test.json" ]; then
  python tools/dataset_converters/make_med_mnist.py --out "$DATA" --num-train 5000 \
    --num-val 1000 --num-test 1000 --img-size 640 --readers 3 --proficiency 0.8 --seed 0
fi
t1=$(date +%s); echo "[pair] data ready in $((t1 - t0)) s"
for arm in baseline wbf_earl; do
  python tools/run_protocol.py --scale "$SCALE" --arms "$arm" --data-root "$DATA" \
    --work-dir "$OUT" > "$OUT.$arm.log" 2>&1 &
done
wait
t2=$(date +%s); echo "[pair] both arms trained and tested in $((t2 - t1)) s"
# reuses both arms' predictions; writes the combined table, bootstrap and curves
python tools/run_protocol.py --scale "$SCALE" --arms baseline wbf_earl --data-root "$DATA" \
  --work-dir "$OUT"
t3=$(date +%s); echo "[pair] total $((t3 - t0)) s"
