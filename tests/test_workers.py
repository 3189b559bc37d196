"""Nothing is left behind by a killed app: the analysis workers and their forkserver exit with
the process that started them, and `check --repair` removes what the import left half done.

The import runs the real mood model in two worker processes (each loads it), on generated clips.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from app.config import MODELS_DIR, REPO_ROOT

MUSIC_MODEL = MODELS_DIR / "music_mood.npz"
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not MUSIC_MODEL.is_file(), reason="needs /proc and the mood model"
)

# The killed "app": an upload whose temp file is written and being analysed, and a folder import
# with two workers that is killed after copying a file into the media store but before its row
# is inserted (the moment a crash leaves an orphan).
KILLED_IMPORT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    from app.catalog.db import init_db
    from app.catalog.media import FolderStore
    from app.library import ingest

    real_put = FolderStore.put_file

    def put_then_hang(self, *args, **kwargs):
        stored = real_put(self, *args, **kwargs)
        print("stored", stored[0], flush=True)
        time.sleep(3600)  # killed here: the file is in the store, its row is not in the catalog

    if __name__ == "__main__":  # the workers re-import this module: they must not run it
        FolderStore.put_file = put_then_hang
        init_db()
        FolderStore().incoming_path(".wav").write_bytes(b"RIFF an upload being analysed")
        ingest.ingest_paths([sys.argv[1]], workers=2)
    """
)


def _marked_processes(marker: str) -> dict[int, str]:
    """pid → command line of every live (not zombie) process whose environment has the marker."""
    found = {}
    needle = f"MOODTUNE_TEST_MARKER={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile, or not ours
        if stat[stat.rindex(")") + 2] != "Z":  # a zombie has exited; only its exit status is left
            found[int(entry.name)] = cmdline
    return found


def _clips(folder: Path, n: int = 6) -> Path:
    import soundfile as sf

    from app.tools.samples import SR, mood_clip

    folder.mkdir()
    for i in range(n):
        sf.write(folder / f"clip_{i}.wav", mood_clip("Q1Q2Q3Q4"[i % 4 * 2 : i % 4 * 2 + 2], seed=i, seconds=4), SR)
    return folder


def test_a_killed_import_leaves_no_worker_alive_and_check_repair_removes_its_leftovers(tmp_path):
    marker = uuid.uuid4().hex
    media = tmp_path / "media"
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'moodtune.db'}",
        MOODTUNE_MEDIA_DIR=str(media),
        MOODTUNE_TEST_MARKER=marker,
        PYTHONPATH=str(REPO_ROOT),
    )
    script = tmp_path / "killed_import.py"
    script.write_text(KILLED_IMPORT)
    app = subprocess.Popen(
        [sys.executable, str(script), str(_clips(tmp_path / "clips"))],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = app.stdout.readline()  # blocks until the first file is stored (or the script dies)
        assert line.startswith("stored "), app.stderr.read()
        orphan = media / line.split()[1]
        helpers = {pid: cmd for pid, cmd in _marked_processes(marker).items() if pid != app.pid}
        pool = [pid for pid, cmd in helpers.items() if "forkserver" in cmd]
        # The forkserver and the two workers forked from it all carry its command line.
        assert len(pool) >= 3, helpers
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait()

    deadline = time.monotonic() + 10
    while (alive := _marked_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive == {}, f"still alive 10 s after the app was killed: {alive}"

    # What the kill left: the orphan (stored, no row) and the upload's temp file.
    check = [sys.executable, "-m", "app", "check", "--json"]
    before = json.loads(subprocess.run(check, cwd=REPO_ROOT, env=env, capture_output=True, check=True).stdout)
    assert before["orphan_files"] == [str(orphan)] and len(before["temp_files"]) == 1
    assert before["repaired"] is False and before["in_flight"] == []
    repaired = subprocess.run([*check, "--repair"], cwd=REPO_ROOT, env=env, capture_output=True, check=True)
    after = json.loads(repaired.stdout)
    assert after["repaired"] is True and after["orphan_files"] == [str(orphan)] and after["temp_files"]
    assert not orphan.exists() and not any(p.suffix == ".tmp" for p in media.rglob("*"))
    assert after["missing_files"] == []
