"""Where analysis (decode checks + mood model) runs: the typed jobs and the one executor interface.

A job is a small frozen dataclass; a task is a plain module-level function of one job, so any
executor can ship both to another process or machine. `AnalysisExecutor` is the interface:
`InProcessExecutor` runs here, `LocalProcessPool.lease()` runs on this machine's cores, and
`DaskExecutor` runs the same tasks on a Dask distributed cluster. `analysis_executor()` is the
one choice between them: the cluster when a scheduler address is given (`--scheduler` or
MOODTUNE_DASK_SCHEDULER), else this machine. Workers read the audio by path, so a cluster's
workers need the files at the same paths (shared storage) and the app with its models/.

The database and the media store are written only by the calling process, never by a task.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar

from app.library.tagging import IngestSetupError, Tagger, check_tagger

if TYPE_CHECKING:  # distributed is imported only when a scheduler is given
    from distributed import Client

log = logging.getLogger(__name__)

ANALYSIS_IDLE_S = 120.0
SCHEDULER_ENV = "MOODTUNE_DASK_SCHEDULER"

J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class AnalysisJob:
    """Check, read the tags of and mood-tag one file that isn't in the catalog yet."""

    path: str  # where the file is now
    source: str  # what to call it in messages
    name_hint: str  # original file name, for the title fallback
    sha256: str
    max_duration_s: float


@dataclass(frozen=True)
class RetagJob:
    """Run the mood model again on one stored track."""

    track_id: int
    path: str  # MediaStore.locator: a path, or an s3:// URL the task downloads


class WorkerLost(RuntimeError):
    """The worker running a job went away (killed, out of memory): the job has no outcome."""


class AnalysisExecutor(Protocol):
    def run(self, fn: Callable[[], R]) -> R:
        """fn() on a worker, its result returned here; exceptions are raised here, a lost worker
        as WorkerLost."""
        ...

    def map_unordered(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[tuple[J, R | Exception]]:
        """(job, fn(job)) for every job as each finishes, in any order; a job whose task raised
        (or whose worker was lost: WorkerLost) comes back with the exception instead."""
        ...


class InProcessExecutor:
    """Runs each task here, one after another (workers=0, and taggers that live in this process)."""

    def run(self, fn: Callable[[], R]) -> R:
        return fn()

    def map_unordered(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[tuple[J, R | Exception]]:
        for job in jobs:
            try:
                outcome: R | Exception = fn(job)
            except Exception as exc:  # the same contract as a worker's: one job's failure is its own
                log.exception("analysis task failed for %r", job)
                outcome = exc
            yield job, outcome


class _PoolLease:
    """One caller's use of the local pool (an AnalysisExecutor); notes whether the pool broke."""

    def __init__(self, executor: ProcessPoolExecutor) -> None:
        self._executor = executor
        self.broken = False

    def run(self, fn: Callable[[], R]) -> R:
        try:
            return self._executor.submit(fn).result()
        except BrokenProcessPool:
            self.broken = True
            raise WorkerLost("the analysis worker process died") from None

    def map_unordered(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[tuple[J, R | Exception]]:
        futures: dict[Future, J] = {}
        unsent: list[J] = []
        for job in jobs:
            if self.broken:
                unsent.append(job)
                continue
            try:
                futures[self._executor.submit(fn, job)] = job
            except BrokenProcessPool:
                self.broken = True
                unsent.append(job)
        for future in as_completed(futures):
            job = futures[future]
            try:
                outcome: R | Exception = future.result()
            except BrokenProcessPool:
                self.broken = True
                outcome = WorkerLost("the analysis worker process died")
            except Exception as exc:
                outcome = exc
            yield job, outcome
        for job in unsent:
            yield job, WorkerLost("the analysis worker process died")


class LocalProcessPool:
    """Worker processes on this machine, so the app's own process never loads the mood model
    and its libraries (see `rss_mb` and `analysis_worker_rss_mb` in `python -m app bench`).

    Started on first use and kept while imports keep coming (each worker loads the model once,
    so a curator's uploads one after another don't pay that each time), shut down after
    `idle_s` without work so the memory goes back. A pool that broke (a worker died) is
    replaced on the next lease. forkserver: workers start from a clean process, safe even
    though the caller has threads (the Streamlit server does). Workers end with the process
    that made the pool, however it ends (see `_exit_with`)."""

    def __init__(self, idle_s: float = ANALYSIS_IDLE_S) -> None:
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._size = 0
        self._busy = 0
        self._idle_timer: threading.Timer | None = None

    @contextmanager
    def lease(self, workers: int) -> Iterator[AnalysisExecutor]:
        """The pool with at least `workers` processes (while no one else is using it) for the
        duration of the block. `lease(n).run(fn)` is how tools run something in a worker."""
        held = _PoolLease(self._acquire(max(1, workers)))
        try:
            yield held
        finally:
            self._release(held._executor, held.broken)

    def shutdown_if_idle(self) -> None:
        """Stop the workers now unless a lease is open (the idle timer does this by itself)."""
        with self._lock:
            if self._busy == 0 and self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def _acquire(self, workers: int) -> ProcessPoolExecutor:
        with self._lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            if self._executor is not None and self._size < workers and self._busy == 0:
                self._executor.shutdown(wait=False)
                self._executor = None
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                self._executor = ProcessPoolExecutor(
                    max_workers=workers, mp_context=context, initializer=_exit_with, initargs=(os.getpid(),)
                )
                self._size = workers
            self._busy += 1
            return self._executor

    def _release(self, executor: ProcessPoolExecutor, broken: bool) -> None:
        with self._lock:
            self._busy -= 1
            if broken and executor is self._executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            if self._busy == 0 and self._executor is not None:
                self._idle_timer = threading.Timer(self.idle_s, self.shutdown_if_idle)
                self._idle_timer.daemon = True
                self._idle_timer.start()


def _exit_with(app_pid: int) -> None:
    """Worker initializer: end this worker when the app process that started the pool dies.

    A worker waits on a pipe every worker holds both ends of, and its parent is the forkserver,
    not the app: neither notices a killed app, so without this the workers (each holding the
    mood model) and the forkserver that waits on them would live on. The app's pid is watched
    through a pidfd (readable once it exits; immune to pid reuse), polled where there is none;
    PR_SET_PDEATHSIG also ends the worker if the forkserver goes first."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    try:
        pidfd: int | None = os.pidfd_open(app_pid)
    except ProcessLookupError:
        os._exit(1)  # the app is already gone
    except (AttributeError, OSError):
        pidfd = None
    threading.Thread(target=_wait_for_exit, args=(app_pid, pidfd), name="exit-with-app", daemon=True).start()
    # One BLAS thread per worker: the pool already runs one worker per core, and numpy's FFT and
    # matrix products spread over every core would make the workers fight over them.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _wait_for_exit(app_pid: int, pidfd: int | None) -> None:
    if pidfd is not None:
        select.select([pidfd], [], [])
    else:
        while True:
            try:
                os.kill(app_pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
            time.sleep(1.0)
    os._exit(1)


# The app's one local pool: ingest and retag lease it; tools (the bench) may too.
ANALYSIS_POOL = LocalProcessPool()


@contextmanager
def local_executor(workers: int) -> Iterator[AnalysisExecutor]:
    """This machine's executor for `workers` analysis processes: in this process when 0."""
    if workers <= 0:
        yield InProcessExecutor()
    else:
        with ANALYSIS_POOL.lease(workers) as executor:
            yield executor


# ----------------------------------------------------------------------------- a Dask cluster


class SchedulerUnreachable(IngestSetupError):
    """No Dask scheduler answers at the address given: nothing was analysed or imported."""


class DaskExecutor:
    """An AnalysisExecutor on a Dask distributed cluster (`distributed.Client`): the same task
    functions and jobs as the local pool, shipped by reference, so every worker needs the app
    installed with its models/ and the audio files at the same paths as here.

    A task's exception comes back as that exception; a job whose worker died (past the
    scheduler's allowed-failures) or that the cluster cancelled comes back as WorkerLost."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @classmethod
    def connect(cls, address: str) -> DaskExecutor:
        """A client of the scheduler at `address` (`tcp://host:8786`), or SchedulerUnreachable.
        How long to try is dask's `distributed.comm.timeouts.connect` (e.g. the environment's
        DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s)."""
        try:
            import dask.config
            from dask.utils import parse_timedelta
            from distributed import Client
            from distributed.comm import get_address_host_port
        except ImportError as exc:
            raise SchedulerUnreachable(
                f"a Dask scheduler was given but Dask is not installed ({exc}); pip install -r requirements-cluster.txt"
            ) from None
        hint = f"start one with `dask scheduler`, or fix --scheduler / {SCHEDULER_ENV}"
        try:
            get_address_host_port(address)  # a malformed address would leave a half-made client behind
        except ValueError as exc:
            raise SchedulerUnreachable(f"{address!r} is not a scheduler address like tcp://host:8786 ({exc})") from None
        try:
            client = Client(address, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachable(f"no Dask scheduler answers at {address} ({exc}); {hint}") from None
        try:  # without a worker every job would wait forever
            client.wait_for_workers(1, timeout=parse_timedelta(dask.config.get("distributed.comm.timeouts.connect")))
        except (OSError, TimeoutError):
            client.close()
            raise SchedulerUnreachable(
                f"the Dask scheduler at {address} has no workers; start them with `dask worker {address}`"
            ) from None
        return cls(client)

    def close(self) -> None:
        self.client.close()

    def run(self, fn: Callable[[], R]) -> R:
        from distributed import KilledWorker
        from distributed.client import FutureCancelledError

        try:
            return self.client.submit(fn, pure=False).result()
        except (KilledWorker, FutureCancelledError) as exc:
            raise WorkerLost(f"the Dask worker running it was lost ({type(exc).__name__})") from None
        except IngestSetupError:
            raise
        except (ImportError, RuntimeError) as exc:
            # The scheduler unpickles the task too: one that can't import `app` says "deserialization".
            if isinstance(exc, RuntimeError) and "deserializ" not in str(exc):
                raise
            reason = str(exc) if isinstance(exc, ImportError) else "the scheduler could not unpickle the task"
            raise IngestSetupError(
                f"the Dask cluster cannot run the app's tasks ({reason}); the scheduler and every worker "
                "need the app importable (see the README, Tagging on a cluster)"
            ) from None

    def map_unordered(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[tuple[J, R | Exception]]:
        from distributed import KilledWorker, as_completed
        from distributed.client import FutureCancelledError

        futures = self.client.map(fn, list(jobs), pure=False)
        by_key = {future.key: job for future, job in zip(futures, jobs, strict=True)}
        for future in as_completed(futures, loop=self.client.loop):
            job = by_key.pop(future.key)
            try:
                outcome: R | Exception = future.result()
            except (KilledWorker, FutureCancelledError) as exc:
                outcome = WorkerLost(f"the Dask worker running it was lost ({type(exc).__name__})")
            except Exception as exc:
                outcome = exc
            future.release()  # the result lives on a worker until every reference is gone
            yield job, outcome


def scheduler_address(given: str | None = None) -> str | None:
    """The Dask scheduler to analyse on: `given` (the --scheduler option), else
    MOODTUNE_DASK_SCHEDULER, else None (this machine)."""
    return given or os.environ.get(SCHEDULER_ENV) or None


@contextmanager
def cluster_executor(scheduler: str | None = None) -> Iterator[DaskExecutor | None]:
    """The Dask cluster at `scheduler_address(scheduler)` for the block, or None when none is
    set (the caller keeps the local default). Connects before the block runs, so an unreachable
    scheduler raises SchedulerUnreachable before anything is read or imported."""
    address = scheduler_address(scheduler)
    if address is None:
        yield None
        return
    executor = DaskExecutor.connect(address)
    try:
        yield executor
    finally:
        executor.close()


@contextmanager
def analysis_executor(workers: int, scheduler: str | None = None) -> Iterator[AnalysisExecutor]:
    """Where analysis runs, the one choice: the Dask cluster when a scheduler address is given
    (argument or MOODTUNE_DASK_SCHEDULER; it wins over `workers`), else this machine with
    `workers` processes (`local_executor`)."""
    with cluster_executor(scheduler) as cluster:
        if cluster is not None:
            yield cluster
        else:
            with local_executor(workers) as executor:
                yield executor


# ----------------------------------------------------------------------------- running a task over jobs


def describe_failure(exc: Exception) -> str:
    """The curator's message for a job whose task raised or whose worker was lost."""
    if isinstance(exc, WorkerLost):
        return "the analysis worker crashed (out of memory?)"
    return f"analysis failed: {type(exc).__name__}: {exc}"


def analyse_all(
    task: Callable[..., R],
    jobs: Sequence[J],
    *,
    workers: int,
    tagger: Tagger | None = None,
    executor: AnalysisExecutor | None = None,
) -> Iterator[tuple[J, R | Exception]]:
    """(job, outcome) for every job as it is done, `task(job)` run on `executor` (default:
    `analysis_executor`, i.e. the Dask cluster named by MOODTUNE_DASK_SCHEDULER, else the local
    pool with `workers` processes; this process when 0 or when a tagger object is given, since
    it lives here). The tagger is checked where the tasks run before any job, so a
    model that can't load raises one IngestSetupError instead of failing every file.

    `task(job, tagger=None)` must be a module-level function; with a tagger it is bound in."""
    if not jobs:
        return
    fn = task if tagger is None else partial(task, tagger=tagger)
    check = check_tagger if tagger is None else partial(check_tagger, tagger)
    if executor is not None:
        context = nullcontext(executor)
    elif tagger is not None:
        context = nullcontext(InProcessExecutor())
    else:
        context = analysis_executor(min(workers, len(jobs)))
    with context as chosen:
        try:
            chosen.run(check)
        except WorkerLost:
            raise IngestSetupError("the analysis worker could not start (out of memory?)") from None
        yield from chosen.map_unordered(fn, jobs)
