"""Where analysis (decode checks + mood model) runs: the typed jobs and the one executor interface.

A job is a small frozen dataclass; a task is a plain module-level function of one job, so any
executor can ship both to another process or machine. `AnalysisExecutor` is the interface:
`InProcessExecutor` runs here, `LocalProcessPool.lease()` runs on this machine's cores, and
`DaskExecutor` runs the same tasks on a Dask distributed cluster. `analysis_executor()` is the
one choice between them: the cluster when a scheduler address is given (`--scheduler` or
MOODTUNE_DASK_SCHEDULER), else this machine. Workers read the audio by path, so a cluster's
workers need the files at the same paths (shared storage) and the app with its models/. A
cluster is reached over TLS (plain tcp:// only on this machine, or declared insecure), and its
answers are rebuilt here only as plain data (`_PlainUnpickler`), within timeouts that hold.

The database and the media store are written only by the calling process, never by a task.
"""

from __future__ import annotations

import ctypes
import io
import ipaddress
import logging
import multiprocessing
import os
import pickle
import queue
import select
import signal
import socket
import sys
import threading
import time
from collections import Counter
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
# Plain tcp:// to a scheduler that isn't on this machine only with this set to 1: anyone who can
# reach such a scheduler can run code on it and answer tasks (README, Tagging on a cluster).
INSECURE_ENV = "MOODTUNE_DASK_INSECURE"
# How long the cluster may go without answering (a task's result, the model check) before the
# jobs still waiting are given up: a long track's analysis, with room to spare.
ANSWER_TIMEOUT_ENV = "MOODTUNE_DASK_ANSWER_TIMEOUT_S"
DEFAULT_ANSWER_TIMEOUT_S = 600.0

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
    """No Dask scheduler answers at the address given (or none may be used there): nothing was
    analysed or imported."""


class ClusterAnswerRefused(IngestSetupError):
    """The cluster answered a task with something other than plain data: refused unread (a job's
    outcome; raised from `run`, it stops the import with its message)."""


class ClusterSilent(IngestSetupError):
    """The cluster did not answer within the answer timeout (a job's outcome; raised from `run`,
    it stops the import with its message)."""


def answer_timeout_s() -> float:
    """MOODTUNE_DASK_ANSWER_TIMEOUT_S, else DEFAULT_ANSWER_TIMEOUT_S."""
    try:
        value = float(os.environ.get(ANSWER_TIMEOUT_ENV) or DEFAULT_ANSWER_TIMEOUT_S)
    except ValueError:
        value = DEFAULT_ANSWER_TIMEOUT_S
    return value if value > 0 else DEFAULT_ANSWER_TIMEOUT_S


def _is_loopback(host: str) -> bool:
    """Every address `host` names is this machine's loopback (a name is resolved)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def cluster_security(address: str):  # noqa: ANN201 - distributed.Security, imported lazily
    """How to reach the scheduler at `address`: tls:// with the certificates of Dask's own TLS
    settings (`distributed.comm.tls.*`, e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE), plain tcp://
    only on this machine or with MOODTUNE_DASK_INSECURE=1 (returns None then). Raises
    SchedulerUnreachable for anything else."""
    from distributed.comm import parse_address, parse_host_port
    from distributed.security import Security

    scheme, location = parse_address(address)
    if scheme == "tls":
        security = Security(require_encryption=True)  # the CA, certificate and key from dask's config
        missing = [
            env
            for env, value in (
                ("DASK_DISTRIBUTED__COMM__TLS__CA_FILE", security.tls_ca_file),
                ("DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT", security.tls_client_cert),
            )
            if not value
        ]
        if missing:
            raise SchedulerUnreachable(
                f"{address} is a TLS scheduler but no certificates are configured: set {' and '.join(missing)} "
                "(and DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY unless the key is in the certificate file)"
            )
        return security
    if scheme == "tcp":
        host, _ = parse_host_port(location)
        if not _is_loopback(host) and os.environ.get(INSECURE_ENV) != "1":
            raise SchedulerUnreachable(
                f"refusing plain tcp:// to {address}: anyone who can reach that scheduler can run code on it "
                f"and answer its tasks. Use tls:// with certificates (README, Tagging on a cluster), or set "
                f"{INSECURE_ENV}=1 on a network you trust"
            )
        return None
    raise SchedulerUnreachable(f"{address!r}: a scheduler address is tls://host:port (or tcp:// on this machine)")


# ----------------------------------------------------------------------------- plain data only

# What the importing process rebuilds from a cluster's answers (module -> names; "*" for any
# exception class there): the jobs, the tasks' results, exceptions and their tracebacks, and the
# task graph the scheduler sends back in errors. Never a function made from code (cloudpickle),
# nor builtins such as open, eval or getattr: a pickle that names them could run anything here.
_PLAIN_GLOBALS: dict[str, frozenset[str]] = {
    "app.library.executor": frozenset({"AnalysisJob", "RetagJob", "WorkerLost"}),
    "app.library.ingest": frozenset({"IngestResult", "_Analysis", "analyse_file"}),
    "app.library.retag": frozenset({"_Retagged", "retag_file"}),
    "app.library.tagging": frozenset({"IngestSetupError", "check_tagger"}),
    "app.music.tagger": frozenset({"MoodPoint", "MoodTag"}),
    "app.music.errors": frozenset({"*"}),
    "builtins": frozenset(
        {
            "bytes",
            "bytearray",
            "str",
            "int",
            "float",
            "complex",
            "bool",
            "tuple",
            "list",
            "dict",
            "set",
            "frozenset",
            "slice",
            "range",
            "NoneType",
            "*",
        }  # fmt: skip
    ),
    "tblib": frozenset({"Code", "Frame", "Traceback"}),
    "tblib.pickling_support": frozenset({"unpickle_exception_with_attrs", "unpickle_traceback", "unpickle_exception"}),
    "dask._task_spec": frozenset({"Task", "Alias", "DataNode", "TaskRef", "List", "Dict", "Tuple", "Set"}),
    "dask._expr": frozenset({"Expr._reconstruct", "LLGExpr"}),
    "distributed.client": frozenset({"_MapExpr", "FutureCancelledError"}),
    "distributed.scheduler": frozenset({"KilledWorker", "WorkerState"}),  # a lost worker's report
    "distributed.core": frozenset({"Status", "*"}),
    "collections": frozenset({"deque", "defaultdict", "OrderedDict"}),
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        allowed = _PLAIN_GLOBALS.get(module, frozenset())
        if name in allowed:
            return super().find_class(module, name)
        if "*" in allowed and "." not in name:
            found = super().find_class(module, name)
            if isinstance(found, type) and issubclass(found, Exception):  # not SystemExit, KeyboardInterrupt
                return found
        raise pickle.UnpicklingError(f"a Dask answer named {module}.{name}, which is not plain data")


_client_loop_threads: Counter[int] = Counter()  # thread id -> open clients on it


def _plain_loads(data: bytes, *, buffers: Sequence[object] = ()) -> object:
    """distributed's pickle.loads, restricted to _PLAIN_GLOBALS: everywhere in this process, the
    client's handshake included, unless it also runs a scheduler, nanny or worker (a LocalCluster,
    as in tests), which must read what it is sent: then only on the threads of its clients."""
    from distributed import Nanny, Scheduler, Worker

    hosts_servers = bool(Scheduler._instances or Worker._instances or Nanny._instances)
    if hosts_servers and threading.get_ident() not in _client_loop_threads:
        return _distributed_loads(data, buffers=buffers)
    return _PlainUnpickler(io.BytesIO(data), buffers=buffers).load()


_distributed_loads: Callable[..., object] = pickle.loads


def _answer_plain_data_only(client: Client) -> int:
    """From now on, what `client` receives is unpickled by _PlainUnpickler: Dask's wire protocol
    unpickles whatever a peer sends (a hostile worker's result could run a shell command here), and
    has no setting against it, so its pickle.loads is wrapped (once per process)."""

    async def loop_thread() -> int:
        return threading.get_ident()

    thread = client.sync(loop_thread)
    _client_loop_threads[thread] += 1
    _install_plain_loads()
    return thread


def _install_plain_loads() -> None:
    """Wrap distributed's pickle.loads with _plain_loads (once per process)."""
    global _distributed_loads
    import distributed.protocol.pickle as wire_pickle

    if wire_pickle.loads is not _plain_loads:
        _distributed_loads = wire_pickle.loads
        wire_pickle.loads = _plain_loads


def _within(seconds: float, call: Callable[[], R], silent: str) -> R:
    """call() on a daemon thread, its result or exception here; SchedulerUnreachable(silent) if it
    takes longer than `seconds` (a scheduler that accepts connections but never answers would
    otherwise hang Client() whatever its timeout says; the thread is left to die with the process)."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="dask-connect", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise SchedulerUnreachable(silent)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


class DaskExecutor:
    """An AnalysisExecutor on a Dask distributed cluster (`distributed.Client`): the same task
    functions and jobs as the local pool, shipped by reference, so every worker needs the app
    installed with its models/ and the audio files at the same paths as here.

    A task's exception comes back as that exception; a job whose worker died (past the
    scheduler's allowed-failures) or that the cluster cancelled comes back as WorkerLost; an
    answer that isn't plain data as ClusterAnswerRefused; no answer within answer_timeout_s()
    as ClusterSilent."""

    def __init__(self, client: Client, answer_timeout: float | None = None) -> None:
        self.client = client
        self.answer_timeout = answer_timeout if answer_timeout is not None else answer_timeout_s()
        self.loop_thread: int | None = None  # where this client's answers are unpickled

    @classmethod
    def connect(cls, address: str) -> DaskExecutor:
        """A client of the scheduler at `address` (`tls://host:8786`, see cluster_security), or
        SchedulerUnreachable. How long to try is dask's `distributed.comm.timeouts.connect` (e.g.
        the environment's DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s), for connecting and again
        for the scheduler's first answer."""
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
            raise SchedulerUnreachable(f"{address!r} is not a scheduler address like tls://host:8786 ({exc})") from None
        security = cluster_security(address)
        _install_plain_loads()  # before the handshake: the scheduler's first answers are plain data too
        timeout = float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect")))
        silent = f"the Dask scheduler at {address} did not answer within {2 * timeout:g} s; {hint}"
        try:
            client = _within(
                2 * timeout,
                lambda: Client(address, security=security, set_as_default=False, timeout=timeout),
                silent,
            )
        except SchedulerUnreachable:
            raise
        except Exception as exc:  # OSError, TimeoutError, ssl errors, a bad certificate file...
            raise SchedulerUnreachable(f"no Dask scheduler answers at {address} ({exc}); {hint}") from None
        try:  # without a worker every job would wait forever
            loop_thread = _answer_plain_data_only(client)
            _within(timeout + 5, lambda: client.wait_for_workers(1, timeout=timeout), silent)
        except (OSError, TimeoutError):
            client.close(timeout=timeout)
            raise SchedulerUnreachable(
                f"the Dask scheduler at {address} has no workers; start them with `dask worker {address}`"
            ) from None
        except SchedulerUnreachable:
            raise
        executor = cls(client)
        executor.loop_thread = loop_thread
        return executor

    def close(self) -> None:
        try:
            _within(self.answer_timeout, lambda: self.client.close(timeout=30), "closing the Dask client timed out")
        except SchedulerUnreachable:
            log.warning("the Dask scheduler did not answer while closing the client")
        if self.loop_thread is not None:
            _client_loop_threads[self.loop_thread] -= 1
            if _client_loop_threads[self.loop_thread] <= 0:
                del _client_loop_threads[self.loop_thread]

    def _result(self, future: object) -> object:
        """A finished (or pending) future's result, as plain data, within the answer timeout."""
        try:
            return future.result(timeout=self.answer_timeout)  # type: ignore[attr-defined]
        except pickle.UnpicklingError as exc:
            log.warning("refused a Dask answer: %s", exc)
            raise ClusterAnswerRefused(
                f"the Dask cluster answered with something other than plain data ({exc})"
            ) from None
        except TimeoutError:
            raise ClusterSilent(f"the Dask cluster did not answer within {self.answer_timeout:g} s") from None

    def run(self, fn: Callable[[], R]) -> R:
        from distributed import KilledWorker
        from distributed.client import FutureCancelledError

        try:
            return self._result(self.client.submit(fn, pure=False))  # type: ignore[return-value]
        except (KilledWorker, FutureCancelledError) as exc:
            raise WorkerLost(f"the Dask worker running it was lost ({type(exc).__name__})") from None
        except IngestSetupError:  # ClusterAnswerRefused and ClusterSilent too
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
        from distributed import KilledWorker
        from distributed.client import FutureCancelledError

        futures = self.client.map(fn, list(jobs), pure=False)
        by_key = {future.key: job for future, job in zip(futures, jobs, strict=True)}
        finished: queue.SimpleQueue = queue.SimpleQueue()
        for future in futures:
            future.add_done_callback(finished.put)
        while by_key:
            try:  # the clock restarts with every answer: a long import is fine, a silent cluster is not
                future = finished.get(timeout=self.answer_timeout)
            except queue.Empty:
                silent = ClusterSilent(f"the Dask cluster did not answer within {self.answer_timeout:g} s")
                for future in futures:
                    if future.key in by_key:
                        future.release()
                        yield by_key.pop(future.key), silent
                return
            if future.key not in by_key:
                continue
            job = by_key.pop(future.key)
            try:
                outcome: R | Exception = self._result(future)  # type: ignore[assignment]
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
