#!/usr/bin/env bash
# The prepared GPU run of the face fine-tune (see app/vision/gpu_finetune.py for the steps here
# before it). On the device machine, as `run` with carry [".cache/gpu"] and timeout_s 600:
#     bash app/vision/gpu_finetune.sh
# It installs the carried Keras wheels when Keras is missing, trains on JAX for at most
# $MINUTES (default 8) and leaves the new member weights and gpu_run.json in $OUT.
# Extra arguments go to the Python module (a CPU check: PYTHON=.venv/bin/python
# KERAS_BACKEND=tensorflow OUT=.cache/gpu_test_out bash app/vision/gpu_finetune.sh --epochs 1 --steps-per-epoch 2).
set -euo pipefail
PYTHON=${PYTHON:-python3}
OUT=${OUT:-.cache/gpu_out}
if ! "$PYTHON" -c "import keras" 2>/dev/null; then
    "$PYTHON" -m pip install --no-index --no-deps -q .cache/gpu/wheels/*.whl
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
"$PYTHON" -c "import keras; print('keras', keras.__version__, 'backend', keras.backend.backend())"
"$PYTHON" -m app.vision.gpu_finetune --pack .cache/gpu/dev_pack.npz --out "$OUT" \
    --minutes "${MINUTES:-8}" "$@"
ls -la "$OUT"
