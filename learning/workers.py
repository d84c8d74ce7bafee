"""The export's worker processes: how they are started, and tuned for one capture each.

Separate from the export itself because this is process plumbing with its own measured
trade-offs (a warm fork server, one core and one BLAS thread a worker, glibc keeping freed
memory), shared by :mod:`learning.exporter` and the benchmark, and because the fork server
preloads :mod:`learning._preload`, which must stay in step with what the workers import.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os


def context():
    """Workers come from a fork server that has already imported the heavy modules and
    warmed them, with one BLAS thread (``learning._preload``): a fresh interpreter per worker
    ("spawn") spends seconds importing; a plain fork of the caller would copy whatever
    threads it runs (the UI's, MediaPipe's) into a broken state."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["learning._preload"])
    return ctx


def start_workers() -> None:
    """Start the export's fork server now, so that its imports (~1.5 s) run while the caller
    does other work (``booth export`` verifies the captures' checksums meanwhile)."""
    context()
    from multiprocessing import forkserver

    forkserver.ensure_running()


def keep_freed_memory() -> None:
    """Let glibc keep freed blocks for reuse instead of unmapping them.

    A capture's work allocates ~100 MB of numpy temporaries in blocks of a few MB; by default
    glibc returns such blocks to the kernel on free, so the next capture page-faults them in
    afresh: ~7,000 faults and ~20 % of a capture's export time (measured: 88 -> 70 ms a
    capture, faults 171k -> 55k for 16 captures). Process-wide, so only for the export's own
    processes and its serial run; the memory kept is bounded by the peak already reached."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
    libc.mallopt(m_mmap_threshold, 64 << 20)
    libc.mallopt(m_trim_threshold, 256 << 20)


def init_worker(counter) -> None:
    """Each worker's initializer: one core per worker. MediaPipe and OpenCV each start a pool
    of threads sized to the machine; in several processes at once those pools fight over the
    cores (measured: a 16-capture export on 2 cores took 4-16 s unpinned, 2.8-3.2 s pinned,
    3.6 s serial). ``counter`` is a shared ``ctx.Value("i", 0)`` numbering the workers."""
    import cv2

    cv2.setNumThreads(1)
    keep_freed_memory()
    with counter.get_lock():
        i = counter.value
        counter.value += 1
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[i % len(cpus)]})
    except (AttributeError, OSError):  # not Linux: leave the scheduler to it
        pass
