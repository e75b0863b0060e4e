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


class SpectrogramSet:
    """Normalised magnitudes (mixture, accompaniment, voice) of a list of clips, in memory."""

    def __init__(self, clips: list[Clip], front_end: FrontEnd = PARK, use_cache: bool = True, progress: bool = True):
        if not clips:
            raise ValueError("SpectrogramSet needs at least one clip")
        self.clip_ids = [c.id for c in clips]
        self.front_end = front_end
        ids_hash = hashlib.sha1("\n".join(self.clip_ids).encode()).hexdigest()[:10]
        path = cache_dir() / f"spectrograms_{front_end.key}_{ids_hash}.npz"
        if use_cache and path.is_file():
            stored = np.load(path)
            self.magnitudes = [stored[f"clip{i}"] for i in range(len(clips))]
        else:
            self.magnitudes = self._compute(clips, progress)
            if use_cache:
                with atomic_path(path) as temporary:
                    np.savez(temporary, **{f"clip{i}": m for i, m in enumerate(self.magnitudes)})
        self.frame_counts = [m.shape[-1] for m in self.magnitudes]

    def _compute(self, clips, progress):
        from tqdm.auto import tqdm

        result = []
        for clip in tqdm(clips, desc="spectrograms", disable=not progress):
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
