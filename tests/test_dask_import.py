"""Import and retag on a Dask distributed cluster: `--scheduler tcp://…` (or MOODTUNE_DASK_SCHEDULER)
sends the same analysis tasks as the local pool to the cluster's workers, which read the files by
path and load the mood model themselves; the catalog is still written only by the command.

The cluster is a two-worker `LocalCluster` of separate processes on 127.0.0.1, as a real one
would be (each worker its own process, reached over TCP)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import distributed
import pytest
from cli_helpers import REPO, run_cli
from conftest import all_files

from app.catalog import repository
from app.catalog.db import init_db, session_scope
from app.config import MODELS_DIR, MUSIC_MODEL_FILE
from app.emotions import QUADRANTS
from app.library import IngestSetupError
from app.library.executor import ClusterAnswerRefused, ClusterSilent, WorkerLost, cluster_executor, describe_failure


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    import dask

    # One death is a lost worker here (a real scheduler retries a task on another worker first).
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        local = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
    with local:
        yield local


@pytest.fixture
def client(cluster: distributed.LocalCluster) -> Iterator[distributed.Client]:
    with distributed.Client(cluster, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=60)
        c.get_task_stream(start=0, stop=0)  # starts the scheduler's task log
        yield c


def _tasks(client: distributed.Client, name: str) -> list[dict]:
    """What the scheduler's task log says ran: one entry per task named `name`, with its worker."""
    return [t for t in client.get_task_stream() if str(t["key"]).startswith(f"{name}-")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _songs(folder: Path) -> list[Path]:
    import soundfile as sf

    from app.tools.samples import SR, mood_clip

    folder.mkdir()
    paths = []
    for i, quadrant in enumerate(("Q1", "Q3", "Q4")):
        paths.append(folder / f"Song {quadrant}.wav")
        sf.write(paths[-1], mood_clip(quadrant, seed=i, seconds=10.0), SR)
    (folder / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVE" + bytes(64))  # a header, no audio
    return paths


@pytest.mark.skipif(
    not (MODELS_DIR / MUSIC_MODEL_FILE).is_file(),
    reason=f"models/{MUSIC_MODEL_FILE} is missing (train it with `python -m app.music.train`): "
    "the cluster's worker processes load the real mood model",
)
def test_an_import_on_a_dask_cluster_tags_every_file_on_the_clusters_workers(tmp_path, media_dir, cluster, client):
    songs = _songs(tmp_path / "in")

    done = run_cli("import", str(tmp_path / "in"), "--scheduler", cluster.scheduler_address, "--json")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["imported"], report["skipped"]) == (3, 0)
    [failed] = report["failed"]
    assert failed["path"].endswith("broken.wav") and failed["error"].startswith("cannot decode this WAV file")
    with session_scope() as s:
        tracks = repository.list_tracks(s)
        assert sorted(t.title for t in tracks) == sorted(p.stem for p in songs)
        assert all(t.tagged_by.startswith("model:") and t.quadrant in QUADRANTS for t in tracks)
    assert len(all_files(media_dir)) == 3  # the broken file left no file behind
    workers = set(cluster.scheduler_info["workers"])
    analysed = _tasks(client, "analyse_file")
    assert len(analysed) == 4 and {t["worker"] for t in analysed} <= workers

    # Retag goes to the cluster named by the environment, with the same task as the local pool.
    again = run_cli("retag", "--json", env={"MOODTUNE_DASK_SCHEDULER": cluster.scheduler_address})

    assert again.returncode == 0, again.stderr
    retag = json.loads(again.stdout)
    assert retag["retagged"] + retag["unchanged"] == 3 and retag["failed"] == []
    retagged = _tasks(client, "retag_file")
    assert len(retagged) == 3 and {t["worker"] for t in retagged} <= workers


def test_a_task_that_fails_or_whose_worker_dies_fails_only_its_own_job(cluster, client):
    with cluster_executor(cluster.scheduler_address) as executor:
        assert executor is not None
        outcomes = dict(executor.map_unordered(int, ["3", "three"]))
        assert outcomes["3"] == 3 and isinstance(outcomes["three"], ValueError)
        [(job, lost)] = list(executor.map_unordered(os._exit, [3]))  # the worker process dies under it
    assert job == 3 and isinstance(lost, WorkerLost)
    assert describe_failure(lost) == "the analysis worker crashed (out of memory?)"
    client.wait_for_workers(2, timeout=60)  # the nanny starts a new one


def test_an_unreachable_scheduler_is_one_clear_line_exit_2_and_imports_nothing(tmp_path, media_dir):
    _songs(tmp_path / "in")
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    quick = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}

    refused = run_cli("import", str(tmp_path / "in"), "--scheduler", address, "--json", env=quick)
    badly_named = run_cli("retag", env={**quick, "MOODTUNE_DASK_SCHEDULER": "scheduler-without-port"})

    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()]  # one line, no traceback
    assert refused.stderr.startswith(f"error: no Dask scheduler answers at {address}")
    assert badly_named.returncode == 2 and "Traceback" not in badly_named.stderr
    assert "'scheduler-without-port' is not a scheduler address like tls://host:8786" in badly_named.stderr
    init_db()
    with session_scope() as s:
        assert repository.count_tracks(s) == 0
    assert all_files(media_dir) == []


def test_without_a_scheduler_the_app_never_imports_dask(tmp_path):
    """The local default is untouched: Dask's import cost lands only where a scheduler is given."""
    (tmp_path / "empty").mkdir()
    script = f"""
import sys
from app.cli import main
from app.library.executor import analysis_executor
main(["import", {str(tmp_path / "empty")!r}, "--json"])
with analysis_executor(0) as executor:
    assert executor.run(lambda: 42) == 42
print([m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")], file=sys.stderr)
"""
    env = {k: v for k, v in os.environ.items() if k != "MOODTUNE_DASK_SCHEDULER"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


# ----------------------------------------------------------------------------- a cluster that can't be trusted


class _RunsOnUnpickle:
    """What the attack's hostile worker answered with: unpickling it creates a file (the attack's
    ran a shell command)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _hostile_answer(marker: str) -> _RunsOnUnpickle:
    return _RunsOnUnpickle(marker)


def test_a_hostile_workers_answer_is_refused_unread_and_runs_nothing_here(tmp_path, cluster, client):
    marker = tmp_path / "ran-in-the-importing-process"
    with cluster_executor(cluster.scheduler_address) as executor:
        [(_, outcome)] = list(executor.map_unordered(_hostile_answer, [str(marker)]))
        assert isinstance(outcome, ClusterAnswerRefused)
        with pytest.raises(ClusterAnswerRefused):
            executor.run(lambda: _RunsOnUnpickle(str(marker)))
        assert executor.run(lambda: 6 * 7) == 42  # plain answers still come through
    assert not marker.exists()


def test_a_cluster_that_stops_answering_fails_the_waiting_jobs_instead_of_hanging(cluster, client):
    import time

    with cluster_executor(cluster.scheduler_address) as executor:
        executor.answer_timeout = 2.0
        started = time.monotonic()
        [(job, outcome)] = list(executor.map_unordered(time.sleep, [60]))
        with pytest.raises(IngestSetupError, match="did not answer within 2 s"):  # one line, not a traceback
            executor.run(lambda: time.sleep(60))
    assert job == 60 and isinstance(outcome, ClusterSilent)
    assert time.monotonic() - started < 40


@contextmanager
def _silent_scheduler() -> Iterator[str]:
    """A port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for conn in held:
            conn.close()


def test_a_scheduler_that_accepts_but_never_answers_stops_the_import_in_seconds(tmp_path, media_dir):
    import time

    _songs(tmp_path / "in")
    with _silent_scheduler() as address:
        started = time.monotonic()
        done = run_cli(
            "import",
            str(tmp_path / "in"),
            "--scheduler",
            address,
            env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
        )
        took = time.monotonic() - started
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert took < 60
    assert all_files(media_dir) == []


def test_a_tls_scheduler_without_certificates_is_one_clear_line_not_a_traceback(tmp_path):
    done = run_cli("import", str(tmp_path), "--scheduler", "tls://127.0.0.1:8786")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "DASK_DISTRIBUTED__COMM__TLS__CA_FILE" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_plain_tcp_to_another_machine_is_refused_unless_declared_insecure(tmp_path):
    address = "tcp://192.0.2.1:8786"  # TEST-NET: nothing answers there
    refused = run_cli("import", str(tmp_path), "--scheduler", address)
    assert refused.returncode == 2 and "refusing plain tcp://" in refused.stderr and "tls://" in refused.stderr
    allowed = run_cli(
        "import",
        str(tmp_path),
        "--scheduler",
        address,
        env={"MOODTUNE_DASK_INSECURE": "1", "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"},
    )
    assert allowed.returncode == 2 and "no Dask scheduler answers" in allowed.stderr  # it tried


def test_a_tls_cluster_with_certificates_runs_the_tasks(tmp_path):
    import dask
    from distributed.security import Security

    security = Security.temporary()  # a CA and a certificate for all, as PEM text
    tls = {
        "distributed.comm.tls.ca-file": security.tls_ca_file,
        "distributed.comm.tls.client.cert": security.tls_client_cert,
        "distributed.comm.tls.client.key": security.tls_client_key,
    }
    with distributed.LocalCluster(
        n_workers=1, processes=True, protocol="tls", security=security, host="127.0.0.1", dashboard_address=None
    ) as local:
        assert local.scheduler_address.startswith("tls://")
        with dask.config.set(tls), cluster_executor(local.scheduler_address) as executor:
            assert dict(executor.map_unordered(int, ["3"])) == {"3": 3}
