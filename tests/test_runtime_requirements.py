"""requirements.txt (what Community Cloud installs) holds what serving needs and nothing that
only training, evaluation, the parity check or a Dask cluster use: the app's pages and its
analysis worker run without those libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import audio_bytes

from app.config import MODELS_DIR, MUSIC_MODEL_FILE, REPO_ROOT
from app.tools.footprint import RUNTIME_REQUIREMENTS, _names

# Distribution name -> the module it installs.
TRAINING_ONLY = {
    "librosa": "librosa",
    "scikit-learn": "sklearn",
    "joblib": "joblib",
    "numba": "numba",
    "dask": "dask",
    "distributed": "distributed",
    "tensorflow": "tensorflow",
}

SERVE_AND_TAG = """
import importlib, json, sys
from app.tools.bench import PAGE_MODULES
for name in PAGE_MODULES:
    importlib.import_module(name)
from app.library import ingest_files
from app.catalog.db import init_db
init_db()
summary = ingest_files([sys.argv[1]], workers=0)  # the analysis worker's task, with the real model
assert summary.imported == 1, summary.as_json()
print(json.dumps(sorted(m for m in sys.modules if "." not in m)))
"""


def test_the_runtime_requirements_leave_out_what_only_training_uses():
    listed = {name.lower() for name in _names(RUNTIME_REQUIREMENTS)}
    assert listed.isdisjoint(TRAINING_ONLY), listed & set(TRAINING_ONLY)


def test_the_pages_and_the_analysis_run_without_the_training_libraries(tmp_path):
    if not (MODELS_DIR / MUSIC_MODEL_FILE).is_file():
        pytest.skip("the mood model is not in models/")
    song = tmp_path / "song.wav"
    song.write_bytes(audio_bytes("wav", seconds=12))
    done = subprocess.run(
        [sys.executable, "-c", SERVE_AND_TAG, str(song)],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert loaded.isdisjoint(TRAINING_ONLY.values()), loaded & set(TRAINING_ONLY.values())
