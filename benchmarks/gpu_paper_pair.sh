#!/usr/bin/env bash
# The paper's MED-MNIST pair on ONE GPU: baseline + WBF + EARL, 5,000 / 1,000 / 1,000
# images at 640 px, YOLOv5-S, 50 epochs (configs/protocol/paper_pair_gpu.py: AMP, batch 64,
# images decoded once into memory). Both arms train at the same time on the one GPU, then
# one combined report with the paired bootstrap. Target: <= 10 min on one H100 / H200.
#
# Prints the wall time of each stage and records the figures, the command, the device
# and the stage times in docs/results/med_mnist_paper_pair_gpu/ (RECORD_DIR).
#
#   bash benchmarks/gpu_paper_pair.sh                 # on a machine with a CUDA GPU
#   bash benchmarks/gpu_paper_pair.sh --dry-run       # CPU: 8 images, 1 epoch (tests)
#   bash benchmarks/gpu_paper_pair.sh --out DIR --record DIR
#
# The dry run (configs/protocol/paper_pair_dry_run.py) goes through every stage of the
# real run; its figures are noise, and it records into DIR/record unless --record says.
set -euo pipefail
cd "$(dirname "$0")/.."
COMMAND="bash benchmarks/gpu_paper_pair.sh $*"
DRY=0
OUT=""
RECORD=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --out) OUT="$2"; shift ;;
    --record) RECORD="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$DRY" = 1 ]; then
  SCALE=configs/protocol/paper_pair_dry_run.py
  OUT="${OUT:-work_dirs/gpu_paper_pair_dry_run}"
  DATA="${DATA_ROOT:-$OUT/data}"
  RECORD="${RECORD:-$OUT/record}"
else
  SCALE=configs/protocol/paper_pair_gpu.py
  OUT="${OUT:-work_dirs/gpu_paper_pair}"
  DATA="${DATA_ROOT:-data/med_mnist_paper}"
  RECORD="${RECORD:-docs/results/med_mnist_paper_pair_gpu}"
  python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else \
'error: no CUDA device (use --dry-run on a CPU machine)')"
fi
mkdir -p "$OUT"
DEVICE=$(python -c "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU (dry run)')")
echo "[pair] $DEVICE; scale $SCALE; work dir $OUT; data $DATA"
t0=$(date +%s)
# the scale's data, generated once before both arms start (they would race otherwise)
python - "$SCALE" "$OUT" "$DATA" <<'EOF'
import sys
from mmmulti.protocol.runner import ProtocolRunner, ProtocolSettings
scale, out, data = sys.argv[1:]
ProtocolRunner(ProtocolSettings(scale_file=scale, work_dir=out, data_root=data)).prepare_data()
EOF
t1=$(date +%s); echo "[pair] data ready in $((t1 - t0)) s"
pids=()
for arm in baseline wbf_earl; do
  python -m mmmulti.protocol --scale "$SCALE" --arms "$arm" --data-root "$DATA" \
    --work-dir "$OUT" > "$OUT/$arm.log" 2>&1 &
  pids+=($!)
done
for i in 0 1; do
  if ! wait "${pids[$i]}"; then
    echo "error: arm $([ "$i" = 0 ] && echo baseline || echo wbf_earl) failed; its log:" >&2
    tail -30 "$OUT/$([ "$i" = 0 ] && echo baseline || echo wbf_earl).log" >&2
    exit 1
  fi
done
t2=$(date +%s); echo "[pair] both arms trained and tested in $((t2 - t1)) s"
# reuses both arms' predictions; writes the combined table, bootstrap and curves
python -m mmmulti.protocol --scale "$SCALE" --arms baseline wbf_earl --data-root "$DATA" \
  --work-dir "$OUT" > "$OUT/report.log" 2>&1
t3=$(date +%s); echo "[pair] report in $((t3 - t2)) s; total $((t3 - t0)) s"
cat "$OUT/results.md"
mkdir -p "$RECORD"
for f in results.md results.csv results.png learning_curves.png fused_boxes.png; do
  if [ -f "$OUT/$f" ]; then cp "$OUT/$f" "$RECORD/$f"; fi
done
python - "$RECORD/run.json" "$COMMAND" "$DEVICE" "$SCALE" "$t0" "$t1" "$t2" "$t3" <<'EOF'
import json, platform, sys
import torch
out, command, device, scale, t0, t1, t2, t3 = sys.argv[1:]
t0, t1, t2, t3 = map(int, (t0, t1, t2, t3))
json.dump(dict(command=command, device=device, scale=scale, torch=torch.__version__,
               host=platform.node(),
               stage_seconds=dict(data=t1 - t0, train_and_test_both_arms=t2 - t1,
                                  report=t3 - t2, total=t3 - t0)),
          open(out, 'w'), indent=2)
print(f'[pair] recorded in {out.rsplit("/", 1)[0]}/')
EOF
