"""The server's malloc settings (app.process_memory): many threads share a bounded number of
arenas instead of one each, so memory a camera stream's thread freed can serve another's."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.config import REPO_ROOT

# Eight threads alive together, each allocating outside Python's small-object allocator; then the
# number of glibc arenas (malloc_info's <heap> entries) is printed.
_ARENAS_AFTER_THREADS = """
import ctypes, re, sys, tempfile, threading
if sys.argv[1] == "limited":
    from app.process_memory import limit_malloc_arenas
    assert limit_malloc_arenas()
barrier, held = threading.Barrier(9), []
def work():
    held.append(bytearray(64 * 1024))
    barrier.wait()
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
barrier.wait()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile("r") as report:
    stream = libc.fopen(report.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    print(len(re.findall(r'<heap nr="', report.read())))
barrier.wait()
"""


def _arenas(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _ARENAS_AFTER_THREADS, mode], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_threads_of_the_server_share_at_most_two_malloc_arenas():
    assert _arenas("default") > 2  # glibc's default: an arena per thread, up to eight per core
    assert _arenas("limited") <= 2
