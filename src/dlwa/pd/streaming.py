"""What the streaming ``~`` objects (``[ddsp~]``, ``[rave~]``) share: how they sit on
pyext~'s worker thread.

pyext~ calls ``process`` with each chunk on a worker thread of its own, a new one at each
DSP start (with a fresh ring). This base times every call (``status`` reports it), moves a
new worker to real-time priority just below Pd's, and keeps Python's lock from being held
long while the worker computes.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np

from dlwa.pd._host import pyext
from dlwa.pd.base import PdObject

# Python hands its lock to a waiting thread every 5 ms by default; Pd's thread waits for it
# whenever a message reaches Python while the stream works. 1 ms keeps Pd's scheduler on time
# (measured in tests/pd/test_ddsp_live_realtime.py).
SWITCH_INTERVAL_S = 0.001


def follow_pd_priority() -> None:
    """Give this (the stream's worker) thread real-time priority just below Pd's own, when
    Pd runs with real-time priority (``-rt``): otherwise any busy process on the machine can
    delay a chunk past its deadline. Without ``-rt``, or without the right, nothing changes."""
    try:
        policy = os.sched_getscheduler(0)  # the process's main thread: Pd's scheduler
        if policy not in (os.SCHED_FIFO, os.SCHED_RR):
            return
        priority = max(1, os.sched_getparam(0).sched_priority - 1)
        os.sched_setscheduler(threading.get_native_id(), policy, os.sched_param(priority))
    except (OSError, AttributeError):
        pass


class StreamingObject(PdObject):
    """Base of the objects pyext~ streams: subclasses compute a chunk in ``_process``."""

    def __init__(self) -> None:
        super().__init__()
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._thread_id: int | None = None
        # chunks, seconds in process, the longest call, calls longer than their chunk lasts
        self.timing: tuple[int, float, float, int] = (0, 0.0, 0.0, 0)

    def process(self, x: np.ndarray) -> np.ndarray:
        """One chunk [inlets, chunk] in, [outlets, chunk] out (pyext~'s streaming call)."""
        start = time.perf_counter()
        y = self._process(x)
        elapsed = time.perf_counter() - start
        n, total, longest, late = self.timing
        over = elapsed * pyext._samplerate() > x.shape[1]  # longer than the chunk lasts
        self.timing = (n + 1, total + elapsed, max(longest, elapsed), late + over)
        return y

    def _process(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _note_worker(self) -> tuple[bool, bool]:
        """Call at each chunk: ``(new, restarted)``. ``new``: this worker thread is not the
        last one (it now follows Pd's priority); ``restarted``: DSP started again (pyext~'s
        new thread has a fresh ring, so the stream should start over)."""
        thread = threading.get_ident()
        if thread == self._thread_id:
            return False, False
        restarted = self._thread_id is not None
        self._thread_id = thread
        follow_pd_priority()
        return True, restarted

    def timing_status(self) -> tuple[str, float, float, int]:
        """``("process_ms", mean, longest, late)`` for ``status``."""
        n, total, longest, late = self.timing
        return ("process_ms", round(1000 * total / max(n, 1), 3), round(1000 * longest, 3),
                late)
