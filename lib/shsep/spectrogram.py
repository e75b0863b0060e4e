"""Park's front end: 8 kHz, STFT (n_fft 1024, hop 256, Hann, centred), 512 bins, per-clip max normalisation.

`FrontEnd` holds the parameters (its `key` names caches built with them); `analyse` turns a
waveform into a complex spectrogram with the network's bins; `synthesise` goes back to a
waveform at any rate, restoring the dropped top bin as zeros (Park's code instead let
librosa infer n_fft = 1022 from 512 rows; `park_istft_quirk=True` reproduces that).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import librosa
import numpy as np


@dataclass(frozen=True)
class FrontEnd:
    sample_rate: int = 8000
    n_fft: int = 1024
    hop_length: int = 256
    num_bins: int = 512
    patch_frames: int = 64

    @property
    def key(self) -> str:
        """Short hash of the parameters, used to name caches."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:10]

    def num_frames(self, num_samples: int) -> int:
        """Frames of a centred STFT (librosa's convention): 1 + samples // hop."""
        return 1 + num_samples // self.hop_length

    def analyse(self, audio: np.ndarray) -> np.ndarray:
        """Complex STFT of a 1-D (or (..., samples)) signal, keeping the lowest `num_bins` bins.

        librosa.stft's conventions (periodic Hann, centred, zero padding), computed by torch.stft: the same values
        to float rounding, without the 1.5 s that librosa's first call spends importing scipy and numba."""
        import torch

        audio = np.ascontiguousarray(audio, dtype=np.float32)
        signals = torch.from_numpy(audio.reshape(-1, audio.shape[-1]))
        spec = torch.stft(signals, self.n_fft, self.hop_length, window=torch.hann_window(self.n_fft), center=True,
                          pad_mode="constant", return_complex=True)
        return spec[:, : self.num_bins].reshape(audio.shape[:-1] + (self.num_bins, spec.shape[-1])).numpy()

    def synthesise(self, spec: np.ndarray, length: int | None = None, park_istft_quirk: bool = False) -> np.ndarray:
        """Inverse STFT of a (num_bins, frames) complex spectrogram at `sample_rate`."""
        if park_istft_quirk:
            return librosa.istft(spec, hop_length=self.hop_length, window="hann", center=True, length=length)
        import torch

        full = self.n_fft // 2 + 1
        if spec.shape[-2] == full:  # every bin kept (the full-band grid): no padded copy
            padded = np.ascontiguousarray(spec, dtype=np.complex64)
        else:
            padded = np.zeros(spec.shape[:-2] + (full, spec.shape[-1]), dtype=np.complex64)
            padded[..., : spec.shape[-2], :] = spec
        if spec.shape[-1] * self.hop_length < self.n_fft:  # too few frames for torch.istft's window check
            return librosa.istft(padded, n_fft=self.n_fft, hop_length=self.hop_length, window="hann", center=True,
                                 length=length)
        length = length if length is not None else self.hop_length * (spec.shape[-1] - 1)  # librosa's default
        waves = torch.istft(torch.from_numpy(padded.reshape(-1, full, spec.shape[-1])), self.n_fft, self.hop_length,
                            window=torch.hann_window(self.n_fft), center=True, length=length)
        return waves.reshape(spec.shape[:-2] + (length,)).numpy()


PARK = FrontEnd()


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr's HQ filter, float32 out: exactly librosa.resample's default
    (soxr_hq, length ceil(n · ratio)), without the 2 s that librosa's first call spends importing scipy and numba."""
    audio = np.asarray(audio, dtype=np.float32)
    if orig_sr == target_sr:
        return audio
    import soxr

    length = int(np.ceil(audio.shape[-1] * float(target_sr) / orig_sr))
    rows = audio.reshape(-1, audio.shape[-1])
    out = np.zeros((rows.shape[0], length), dtype=np.float32)
    for row, signal in zip(out, rows):
        resampled = soxr.resample(signal, orig_sr, target_sr, quality="soxr_hq")[:length]
        row[: len(resampled)] = resampled
    return out.reshape(audio.shape[:-1] + (length,))


@dataclass
class ClipSpectrogram:
    """Normalised magnitudes of one clip: (bins, frames) each, plus the scale they were divided by."""

    mixture: np.ndarray
    accompaniment: np.ndarray
    voice: np.ndarray
    scale: float


def clip_spectrogram(mixture: np.ndarray, accompaniment: np.ndarray, voice: np.ndarray,
                     front_end: FrontEnd = PARK) -> ClipSpectrogram:
    """Magnitudes divided by the mixture's maximum magnitude (Park's per-clip normalisation)."""
    mags = [np.abs(front_end.analyse(x)).astype(np.float32) for x in (mixture, accompaniment, voice)]
    scale = float(mags[0].max())
    if scale <= 0:
        scale = 1.0
    return ClipSpectrogram(mags[0] / scale, mags[1] / scale, mags[2] / scale, scale)
