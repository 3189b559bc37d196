"""glibc malloc settings for the app's server process (`limit_malloc_arenas`).

The server runs many threads that allocate and free large buffers all the time: each live camera
stream decodes, converts and re-encodes a frame on aiortc's and streamlit-webrtc's threads. By
default glibc gives each thread that contends for the heap an arena of its own (up to eight per
core), and after a large buffer is freed it raises the size below which buffers come from those
arenas instead of their own mapping. Frames then land in arenas that keep the memory after the
frame is gone. Fewer arenas, and large buffers always mapped on their own (returned to the system
when freed), keep the server's resident memory near what it holds (`bench --only listeners`).

Set from the process itself because a hosted app (Community Cloud) is started by the platform,
where no MALLOC_* environment variable can be set first. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

# mallopt's parameters (glibc malloc.h).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

ARENAS = 2
# Buffers from this size on get a mapping of their own, returned when freed: a camera frame
# (640×480 BGR, or its YUV) is above it, the many small objects of Python are far below.
MMAP_THRESHOLD_BYTES = 256 * 1024


def limit_malloc_arenas(arenas: int = ARENAS, mmap_threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """At most `arenas` malloc arenas for the threads started from now on, and a fixed mmap
    threshold. True when glibc took both settings."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = bool(mallopt(M_ARENA_MAX, arenas)) and bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold))
    if not done:
        log.warning("glibc refused the malloc settings; memory use is glibc's default")
    return done
