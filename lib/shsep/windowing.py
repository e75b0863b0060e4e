"""Sliding windows over a spectrogram's frames: where each window starts and which frames it keeps.

Park's windows are 64 frames every 32, each keeping its centre half; the "long" windowing runs 512-frame windows
that overlap by 32 frames, about half the network's work (`separate.Separator` lays them).
"""
from __future__ import annotations

import math


def window_plan(num_frames: int, patch: int = 64, window_step: int = 32) -> list[tuple[int, int, int]]:
    """(window start, first frame kept, end frame kept) for sliding windows over num_frames ≥ patch.

    Windows of `patch` frames start every `window_step` frames (Park: 64 and 32, so each keeps its centre half).

    For Park's, the first window keeps frames [0, 48); each later window keeps its centre [start+16, start+48);
    a last window aligned to the end keeps from where the previous centre stopped to the end.
    """
    if num_frames < patch:
        raise ValueError(f"need at least {patch} frames, got {num_frames} (pad first)")
    margin = (patch - window_step) // 2
    plan, start = [], 0
    while start + patch <= num_frames:
        keep_from = 0 if start == 0 else start + margin
        plan.append((start, keep_from, start + patch - margin))
        start += window_step
    last_start = num_frames - patch
    covered = plan[-1][2]
    if covered < num_frames:
        if last_start == plan[-1][0]:
            plan[-1] = (last_start, plan[-1][1], num_frames)
        else:
            plan.append((last_start, covered, num_frames))
    else:
        plan[-1] = (plan[-1][0], plan[-1][1], num_frames)
    return plan


WINDOWINGS = {
    # name: (window frames, frames between window starts); each window keeps its centre, the seams overlap
    "park": (64, 32),  # Park's: every frame computed twice; the paper's protocol (`shsep evaluate` default)
    "long": (512, 480),  # one pass in 16 s windows that overlap by 32 frames: about half the network's work
}
DEFAULT_WINDOWING = "park"


def fitted_windows(num_frames: int, window: int, step: int, patch: int = 64) -> tuple[int, int]:
    """(window, step) for num_frames: Park's fixed windows as they are; longer windows shrunk to split the frames
    into equal parts (a multiple of 16 frames each, so pooling divides them), keeping the same overlap."""
    if window == patch:
        return window, step
    overlap = window - step
    count = max(1, math.ceil((num_frames - overlap) / step))
    window = min(num_frames, max(patch, 16 * math.ceil((math.ceil((num_frames - overlap) / count) + overlap) / 16)))
    return window, max(1, window - overlap)
