"""Precomputed training spectrograms: every clip's normalised magnitudes, cached on disk.

The cache file is keyed by the front-end parameters and the clip ids, so changing either builds
a new one; it lives in ``$SHSEP_CACHE`` or ``data/cache``. Batches are cut from memory.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from .data import Clip, load_sources
from .paths import DATA, atomic_path
from .samplers import WindowSampler, extract_patch
from .spectrogram import PARK, FrontEnd, clip_spectrogram

def cache_dir() -> Path:
    return Path(os.environ.get("SHSEP_CACHE", DATA / "cache"))


def cached_clip_arrays(kind: str, clips: list[Clip], front_end: FrontEnd, compute, use_cache: bool = True):
    """One array per clip: read from the cache file named by kind, front end and clip ids, or compute(clips)
    and written there atomically."""
    ids_hash = hashlib.sha1("\n".join(c.id for c in clips).encode()).hexdigest()[:10]
    path = cache_dir() / f"{kind}_{front_end.key}_{ids_hash}.npz"
    if use_cache and path.is_file():
        stored = np.load(path)
        return [stored[f"clip{i}"] for i in range(len(clips))]
    arrays = compute(clips)
    if use_cache:
        with atomic_path(path) as temporary:
            np.savez(temporary, **{f"clip{i}": a for i, a in enumerate(arrays)})
    return arrays


class SpectrogramSet:
    """Normalised magnitudes (mixture, accompaniment, voice) of a list of clips, in memory."""

    def __init__(self, clips: list[Clip], front_end: FrontEnd = PARK, use_cache: bool = True, progress: bool = True):
        if not clips:
            raise ValueError("SpectrogramSet needs at least one clip")
        self.clip_ids = [c.id for c in clips]
        self.front_end = front_end
        self.magnitudes = cached_clip_arrays("spectrograms", clips, front_end, lambda c: self._compute(c, progress),
                                             use_cache)
        self.frame_counts = [m.shape[-1] for m in self.magnitudes]

    def _compute(self, clips, progress):
        from .progress import progress_over

        result = []
        for clip in progress_over(clips, description="spectrograms", unit="clips", enabled=progress):
            sources = load_sources(clip, self.front_end.sample_rate)
            spec = clip_spectrogram(sources.mixture, sources.accompaniment, sources.voice, self.front_end)
            result.append(np.stack([spec.mixture, spec.accompaniment, spec.voice]))
        return result

    def batch(self, windows: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mixture (B,1,F,T), accompaniment (B,F,T), voice (B,F,T)) for (clip, start) windows."""
        patches = np.stack([extract_patch(self.magnitudes[c], s, self.front_end.patch_frames) for c, s in windows])
        patches = torch.from_numpy(patches)
        return patches[:, 0:1], patches[:, 1], patches[:, 2]

    def sampler(self, policy: str, seed: int) -> WindowSampler:
        return WindowSampler(self.frame_counts, self.front_end.patch_frames, policy, seed)


class StemSpectrograms:
    """Complex spectrograms of every clip's accompaniment and voice, each divided by its clip's mixture scale.

    The STFT is linear, so any window of (g_a·A_j + g_v·V_i) / 2 is the spectrogram of a real remix: the
    accompaniment of clip j and the voice of clip i at gains g_a, g_v (MIR-1K's mixture is the mean of the
    two channels). Cached on disk like `SpectrogramSet`.
    """

    def __init__(self, clips: list[Clip], front_end: FrontEnd = PARK, use_cache: bool = True, progress: bool = True):
        if not clips:
            raise ValueError("StemSpectrograms needs at least one clip")
        self.front_end = front_end
        self.stems = cached_clip_arrays("stems", clips, front_end, lambda c: self._compute(c, progress), use_cache)
        self.frame_counts = [s.shape[-1] for s in self.stems]

    def _compute(self, clips, progress):
        from .progress import progress_over

        result = []
        for clip in progress_over(clips, description="stem spectrograms", unit="clips", enabled=progress):
            sources = load_sources(clip, self.front_end.sample_rate)
            accompaniment, voice = (self.front_end.analyse(x) for x in (sources.accompaniment, sources.voice))
            scale = float(np.abs((accompaniment + voice) / 2).max()) or 1.0  # Park's per-clip normalisation
            result.append((np.stack([accompaniment, voice]) / scale).astype(np.complex64))
        return result

    def window(self, clip: int, start: int, source: int) -> np.ndarray:
        return extract_patch(self.stems[clip][source], start, self.front_end.patch_frames)


class TrainingBatches:
    """The training batches of a run: deterministic in (seed, draw index), so a resumed run sees the same data.

    remix = 0: every element is a real window (`SpectrogramSet`, Park's data). remix = p > 0: each element is,
    with probability p, a remix (the voice of one window, the accompaniment of another, each drawn by the
    sampler, at gains uniform in `gains`), otherwise a real window; a remix louder than 1 is scaled down to 1.
    """

    REMIX_STREAM = 7_919  # keeps the remix draws apart from the sampler's

    def __init__(self, clips: list[Clip], front_end: FrontEnd, sampler: str, seed: int, remix: float = 0.0,
                 gains: tuple[float, float] = (0.25, 1.25), progress: bool = True):
        if not 0.0 <= remix <= 1.0:
            raise ValueError(f"remix is a probability in [0, 1], not {remix}")
        self.remix, self.gains, self.seed = remix, tuple(gains), seed
        self.data = StemSpectrograms(clips, front_end, progress=progress) if remix else \
            SpectrogramSet(clips, front_end, progress=progress)
        self.sampler = WindowSampler(self.data.frame_counts, front_end.patch_frames, sampler, seed)

    def batch(self, first_draw: int, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mixture (B,1,F,T), accompaniment (B,F,T), voice (B,F,T)) of draws first_draw … first_draw + count − 1."""
        if not self.remix:
            return self.data.batch(self.sampler.draws(first_draw, count))
        patches = [self._element(first_draw + i) for i in range(count)]
        patches = torch.from_numpy(np.stack(patches))
        return patches[:, 0:1], patches[:, 1], patches[:, 2]

    def _element(self, draw: int) -> np.ndarray:
        """(3, F, T) magnitudes: mixture, accompaniment, voice."""
        rng = np.random.default_rng([self.seed, self.REMIX_STREAM, draw])
        voice_window = self.sampler.draw(draw)
        if rng.random() < self.remix:
            # the accompaniment's window: a draw from a stream no training step uses
            accompaniment_window = self.sampler.draw(int(rng.integers(2**40, 2**41)))
            accompaniment_gain, voice_gain = rng.uniform(*self.gains, size=2)
        else:
            accompaniment_window, accompaniment_gain, voice_gain = voice_window, 1.0, 1.0
        accompaniment = accompaniment_gain * self.data.window(*accompaniment_window, source=0)
        voice = voice_gain * self.data.window(*voice_window, source=1)
        patch = np.stack([np.abs((accompaniment + voice) / 2), np.abs(accompaniment), np.abs(voice)])
        return (patch / max(1.0, float(patch[0].max()))).astype(np.float32)
