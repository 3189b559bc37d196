"""The now-playing bar's own files (app/ui/now_playing/frontend): the JavaScript parses and its
unit tests pass under Node (tests/frontend/bar.test.mjs), and the markup has the controls the
JavaScript binds. .ci/run installs Node (nodejs); without it these skip on a developer machine."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.config import REPO_ROOT

FRONTEND = REPO_ROOT / "app" / "ui" / "now_playing" / "frontend"
NODE = shutil.which("node")


def needs_node(test):
    """Skips without Node on a developer machine; in CI (.ci/run installs nodejs) it fails."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        if NODE is None:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("node must be installed in CI (apt-get install -y nodejs)")
            pytest.skip("node is not installed")
        return test(*args, **kwargs)

    return run


def _module_copy(tmp_path: Path) -> Path:
    # Node reads a .js file outside a "type": "module" package as CommonJS; the bar is a module.
    copy = tmp_path / "bar.mjs"
    copy.write_text((FRONTEND / "bar.js").read_text(encoding="utf-8"), encoding="utf-8")
    return copy


@needs_node
def test_the_bars_javascript_parses(tmp_path):
    result = subprocess.run([NODE, "--check", str(_module_copy(tmp_path))], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@needs_node
def test_the_bars_javascript_unit_tests_pass(tmp_path):
    env = dict(os.environ, BAR_JS=_module_copy(tmp_path).as_uri())
    result = subprocess.run(
        [NODE, "--test", str(REPO_ROOT / "tests" / "frontend" / "bar.test.mjs")],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_markup_has_every_control_the_javascript_binds():
    html = (FRONTEND / "bar.html").read_text(encoding="utf-8")
    js = (FRONTEND / "bar.js").read_text(encoding="utf-8")
    for name in ("previous", "play", "next", "seek", "mute", "volume", "download", "status"):
        assert f'class="{name}' in html, name
        assert f'q(".{name}")' in js, name
    assert 'aria-label="Previous track"' in html
