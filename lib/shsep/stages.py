"""Wall-clock per stage of separation (decode, resample, STFT, network, masks, synthesis, write), for the
benchmark's table. Off (a no-op) unless a caller is `collecting`; stages do not nest.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

# "network" includes waiting for a graph compiled in the background (`OnnxNetwork.warm_up`); "write" is the time
# spent waiting for the thread that writes the stems (`predict._write_blocks`)
STAGES = ("decode", "resample", "analysis STFT", "network", "masks", "native STFT", "Wiener", "synthesis", "write")
_totals: dict[str, float] | None = None


@contextmanager
def timed(stage: str):
    """Add the block's wall-clock to `stage` while collecting."""
    if _totals is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        _totals[stage] = _totals.get(stage, 0.0) + time.perf_counter() - start


@contextmanager
def collecting():
    """Collect stage times inside the block; yields the dict {stage: seconds} it fills."""
    global _totals
    _totals = {}
    try:
        yield _totals
    finally:
        _totals = None
