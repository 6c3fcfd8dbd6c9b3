#!/usr/bin/env bash
# Install mmmulti and its OpenMMLab stack into the current Python (3.11).
#
# Order matters: torch first, then setuptools<70 (mmcv's setup.py and mmengine's
# `mmdet::` base-config resolution import pkg_resources), then mmcv 2.1.0 built
# --no-build-isolation against that torch, then mmdet and the rest.
# When ../shared/wheels (or $MMMULTI_WHEELS) holds a prebuilt mmcv for this
# torch, pip takes it from there; otherwise mmcv compiles (~17 min on 2 cores).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
PY="${PYTHON:-python}"
PIP="$PY -m pip"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
WHEELS="${MMMULTI_WHEELS:-$here/../shared/wheels}"
find_links=()
if [ -d "$WHEELS" ]; then
  find_links=(--find-links "$WHEELS")
  echo "[install] using prebuilt wheels from $WHEELS when they match"
fi

start=$(date +%s)
# A GPU user who already has a CUDA torch keeps it.
if ! $PY -c "import torch" 2>/dev/null; then
  $PIP install "$TORCH_SPEC"
fi
$PIP install "setuptools<70" wheel ninja
if ! $PY -c "import mmcv, mmcv.ops" 2>/dev/null; then
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    $PIP install --no-build-isolation "${find_links[@]}" "mmcv==2.1.0"
fi
$PIP install -e ".[tests]"
end=$(date +%s)
echo "[install] done in $((end - start)) s"
$PY -c "import torch, mmcv, mmcv.ops, mmdet, mmengine, mmmulti; print('torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmengine', mmengine.__version__, '| mmdet', mmdet.__version__, '| mmmulti', mmmulti.__version__)"
