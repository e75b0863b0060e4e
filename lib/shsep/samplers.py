"""Training-window samplers: which (clip, start frame) each batch element trains on.

Two policies, both stateless functions of (seed, draw index), so a resumed run draws exactly
the windows an uninterrupted one would:

* ``clip-then-start`` (Park): draw d takes clip ``perm_e[d mod n]`` of the permutation of
  epoch e = d // n, then a start uniform over that clip's valid starts. Every clip is seen
  equally often, so windows of short clips are drawn more often than those of long clips.
* ``uniform`` (the report): draw d takes a (clip, start) pair uniformly among all valid pairs,
  so every window is equally likely and long clips are seen more often.

Valid starts: Park's code draws ``randint(0, frames - 64)`` (inclusive: ``frames - 63`` starts);
the report's draws from ``range(frames - 64)`` (exclusive: ``frames - 64`` starts). Frames are
counted as a centred STFT does: ``1 + samples_8k // 256``.
"""
from __future__ import annotations

import numpy as np

SAMPLERS = ("clip-then-start", "uniform")
START_CONVENTIONS = ("park", "report")


def num_valid_starts(num_frames: int, patch_frames: int = 64, convention: str = "park") -> int:
    """How many start frames a clip of `num_frames` offers for a `patch_frames` window.

    'park' (inclusive randint, the training default): frames − patch + 1.
    'report' (exclusive range): frames − patch. Clips shorter than a patch are padded: 1 start.
    """
    if convention not in START_CONVENTIONS:
        raise ValueError(f"convention must be one of {START_CONVENTIONS}, not {convention!r}")
    count = num_frames - patch_frames + (1 if convention == "park" else 0)
    return max(count, 1)


class WindowSampler:
    """Draw (clip index, start frame) pairs for training; see the module docstring for the policies."""

    def __init__(self, frame_counts, patch_frames: int = 64, policy: str = "clip-then-start",
                 seed: int = 0, convention: str = "park"):
        if policy not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, not {policy!r}")
        if len(frame_counts) == 0:
            raise ValueError("cannot sample from an empty list of clips")
        self.policy = policy
        self.seed = seed
        self.starts = np.array([num_valid_starts(f, patch_frames, convention) for f in frame_counts])
        self._cumulative = np.cumsum(self.starts)

    @property
    def num_clips(self) -> int:
        return len(self.starts)

    def draw(self, index: int) -> tuple[int, int]:
        """The `index`-th draw of this sampler (deterministic in seed and index)."""
        rng = np.random.default_rng([self.seed, index])
        if self.policy == "uniform":
            pair = int(rng.integers(self._cumulative[-1]))
            clip = int(np.searchsorted(self._cumulative, pair, side="right"))
            previous = self._cumulative[clip - 1] if clip else 0
            return clip, int(pair - previous)
        epoch, position = divmod(index, self.num_clips)
        permutation = np.random.default_rng([self.seed, 1_000_003, epoch]).permutation(self.num_clips)
        clip = int(permutation[position])
        return clip, int(rng.integers(self.starts[clip]))

    def draws(self, first: int, count: int) -> list[tuple[int, int]]:
        return [self.draw(first + i) for i in range(count)]

    def window_probabilities(self) -> list[np.ndarray]:
        """Probability of each (clip, start) window under this policy, one array per clip."""
        if self.policy == "uniform":
            return [np.full(n, 1.0 / self._cumulative[-1]) for n in self.starts]
        return [np.full(n, 1.0 / (self.num_clips * n)) for n in self.starts]


def extract_patch(spectrogram: np.ndarray, start: int, patch_frames: int = 64) -> np.ndarray:
    """Frames [start, start + patch) of a (bins, frames) array; shorter clips are zero-padded symmetrically."""
    frames = spectrogram.shape[-1]
    if frames < patch_frames:
        missing = patch_frames - frames
        spectrogram = np.pad(spectrogram, [(0, 0)] * (spectrogram.ndim - 1) + [(missing // 2, missing - missing // 2)])
        start = 0
    return spectrogram[..., start: start + patch_frames]


def simulate_coverage(sampler: WindowSampler, num_draws: int) -> list[np.ndarray]:
    """How often each (clip, start) window is drawn in the first num_draws draws, one count array per clip."""
    counts = [np.zeros(n, int) for n in sampler.starts]
    for clip, start in sampler.draws(0, num_draws):
        counts[clip][start] += 1
    return counts


def frame_coverage(counts: list[np.ndarray], patch_frames: int = 64) -> list[np.ndarray]:
    """How many drawn windows cover each frame of each clip (from window counts)."""
    kernel = np.ones(patch_frames, int)
    return [np.convolve(c, kernel) for c in counts]
