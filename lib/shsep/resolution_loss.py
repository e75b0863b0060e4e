"""A multi-resolution spectral loss on the resynthesised estimates (`shsep train --resolution-loss W`).

Park's loss compares magnitudes at the front end's one resolution (1024-point frames at 8 kHz, 128 ms). What
is scored is a waveform: each estimated magnitude takes the mixture's phase and goes through the inverse STFT.
This loss does the same in training: estimates and references (the complex stems of the window) are
resynthesised, then compared as STFT magnitudes at three other resolutions, a short frame for onsets and a long
one for harmonics (RESOLUTIONS at 8 kHz: 32, 64 and 256 ms). Each resolution's magnitudes are divided by its
window's sum over the front end's, so that all sit on the scale of the front end's spectrogram and of Park's
loss; the loss is the mean of the resolutions' mean absolute differences. Park's protocol is untouched: the
network still predicts magnitudes, and separation still uses the mixture's phase.
"""
from __future__ import annotations

import torch

from .spectrogram import FrontEnd

RESOLUTIONS = ((256, 64), (512, 128), (2048, 512))  # (n_fft, hop) in samples
PHASE_EPSILON = 1e-8  # |mixture| below this: a bin's phase is taken as 0


def resynthesise(spectrogram: torch.Tensor, front_end: FrontEnd) -> torch.Tensor:
    """Waveforms (..., samples) of complex spectrograms (..., num_bins, frames) of the front end, the bins above
    num_bins taken as zeros (`spectrogram.istft`'s convention), hop × (frames − 1) samples."""
    missing = front_end.n_fft // 2 + 1 - spectrogram.shape[-2]
    full = torch.nn.functional.pad(spectrogram, (0, 0, 0, missing))
    rows = full.reshape((-1,) + full.shape[-2:])
    window = torch.hann_window(front_end.n_fft, device=spectrogram.device)
    waves = torch.istft(rows, front_end.n_fft, front_end.hop_length, window=window, center=True,
                        length=front_end.hop_length * (spectrogram.shape[-1] - 1))
    return waves.reshape(spectrogram.shape[:-2] + waves.shape[-1:])


class MultiResolutionLoss:
    """The loss against one batch's complex stems (B, 2, F, T), accompaniment and voice: the references'
    magnitudes at each resolution are computed once, then `loss(estimates)` takes magnitude estimates
    (B, 2, F, T), gives them the mixture's phase (the stems' mean), resynthesises them and compares. Float32."""

    def __init__(self, stems: torch.Tensor, front_end: FrontEnd, resolutions: tuple = RESOLUTIONS):
        self.front_end, self.resolutions, self.shape = front_end, tuple(resolutions), stems.shape
        mixture = stems.sum(dim=1, keepdim=True) / 2
        self.phase = mixture / (mixture.abs() + PHASE_EPSILON)
        front_end_window_sum = float(torch.hann_window(front_end.n_fft).sum())
        self.windows = [torch.hann_window(n_fft, device=stems.device) for n_fft, _ in self.resolutions]
        self.scales = [front_end_window_sum / float(window.sum()) for window in self.windows]
        with torch.no_grad():
            self.references = self._magnitudes(resynthesise(stems, front_end))

    def _magnitudes(self, waves: torch.Tensor) -> list[torch.Tensor]:
        rows = waves.reshape(-1, waves.shape[-1])
        return [torch.stft(rows, n_fft, hop, window=window, center=True, return_complex=True).abs() * scale
                for (n_fft, hop), window, scale in zip(self.resolutions, self.windows, self.scales)]

    def loss(self, estimates: torch.Tensor) -> torch.Tensor:
        if estimates.shape != self.shape:
            raise ValueError(f"estimates {tuple(estimates.shape)} and stems {tuple(self.shape)} differ in shape")
        estimated = self._magnitudes(resynthesise(estimates.float() * self.phase, self.front_end))
        return torch.stack([(e - r).abs().mean() for e, r in zip(estimated, self.references)]).mean()
