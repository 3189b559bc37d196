"""Running `python -m app …` from tests, as a user would from the repo root."""

from __future__ import annotations

import os
import subprocess
import sys

from app.config import REPO_ROOT

REPO = REPO_ROOT


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,  # callers assert on the exit code and the output
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )
