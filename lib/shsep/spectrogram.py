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

        librosa.stft's conventions (periodic Hann, centred, zero padding), computed with numpy's FFT: the same
        values to float rounding, without importing librosa (1.5 s for scipy and numba) or torch."""
        audio = np.asarray(audio, dtype=np.float32)
        spec = stft(audio.reshape(-1, audio.shape[-1]), self.n_fft, self.hop_length, self.num_bins)
        return spec.reshape(audio.shape[:-1] + spec.shape[-2:])

    def synthesise(self, spec: np.ndarray, length: int | None = None, park_istft_quirk: bool = False) -> np.ndarray:
        """Inverse STFT of a (..., num_bins, frames) complex spectrogram at `sample_rate`; bins above num_bins
        count as zeros."""
        if park_istft_quirk:
            import librosa

            return librosa.istft(spec, hop_length=self.hop_length, window="hann", center=True, length=length)
        length = length if length is not None else self.hop_length * (spec.shape[-1] - 1)  # librosa's default
        waves = istft(spec.reshape((-1,) + spec.shape[-2:]), self.n_fft, self.hop_length, length)
        return waves.reshape(spec.shape[:-2] + (length,))


def hann_window(n_fft: int) -> np.ndarray:
    """The periodic Hann window (librosa's and torch's default), float32."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


FRAMES_PER_CHUNK = 256  # the FFTs go through this many frames at a time, so their scratch arrays stay small


def stft(signals: np.ndarray, n_fft: int, hop_length: int, num_bins: int | None = None) -> np.ndarray:
    """Centred STFT of (rows, samples) float32 signals, zero-padded by n_fft/2 each side: (rows, bins, frames),
    complex64, 1 + samples // hop frames; the lowest `num_bins` bins (default: all n_fft/2 + 1).

    The result is a transposed view of a frame-major array (each frame's bins contiguous): the FFTs write it
    without a strided copy, `istft` reads it back the same way, and a window of frames is one contiguous block
    (about 1.3× faster for the pair at 44.1 kHz than a bin-major array)."""
    num_bins = num_bins or n_fft // 2 + 1
    padded = np.pad(signals, ((0, 0), (n_fft // 2, n_fft // 2)))
    frames = 1 + (padded.shape[-1] - n_fft) // hop_length
    views = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop_length][:, :frames]
    window = hann_window(n_fft)
    by_frame = np.empty((signals.shape[0], frames, num_bins), np.complex64)
    from scipy import fft  # float32 in, complex64 out: this STFT 1.9x faster than numpy's (docs/speed.md)

    for first in range(0, frames, FRAMES_PER_CHUNK):
        chunk = fft.rfft(views[:, first: first + FRAMES_PER_CHUNK] * window, axis=-1)
        by_frame[:, first: first + FRAMES_PER_CHUNK] = chunk[..., :num_bins]
    return by_frame.transpose(0, 2, 1)


def istft(spec: np.ndarray, n_fft: int, hop_length: int, length: int) -> np.ndarray:
    """Inverse of `stft` for (rows, bins, frames) with bins ≤ n_fft/2 + 1 (missing top bins are zeros):
    windowed overlap-add divided by the summed squared window where it is not ~0 (librosa.istft's rule),
    the n_fft/2 padding removed, cut or zero-padded to `length` samples. Float32 (rows, length)."""
    from scipy import fft  # complex64 in, float32 out: 2.3x faster than numpy's float64 path here (docs/speed.md)

    rows, _, frames = spec.shape
    window = hann_window(n_fft)
    overlap = -(-n_fft // hop_length)  # frames that overlap one hop of output
    padding = overlap * hop_length - n_fft
    out = np.zeros((rows, frames + overlap - 1, hop_length), np.float32)
    for first in range(0, frames, FRAMES_PER_CHUNK):
        chunk = spec[:, :, first: first + FRAMES_PER_CHUNK].transpose(0, 2, 1)
        pieces = fft.irfft(chunk, n=n_fft, axis=-1).astype(np.float32, copy=False)
        pieces *= window
        if padding:
            pieces = np.pad(pieces, ((0, 0), (0, 0), (0, padding)))
        pieces = pieces.reshape(rows, pieces.shape[1], overlap, hop_length)
        for k in range(overlap):
            out[:, first + k: first + k + pieces.shape[1]] += pieces[:, :, k]
    squared = np.pad(window * window, (0, padding)).reshape(overlap, hop_length)
    envelope = np.zeros((frames + overlap - 1, hop_length), np.float32)
    for k in range(overlap):
        envelope[k: k + frames] += squared[k]
    kept = slice(n_fft // 2, n_fft // 2 + length)
    out, envelope = out.reshape(rows, -1)[:, kept], envelope.reshape(-1)[kept]
    np.divide(out, envelope, out=out, where=envelope > np.finfo(np.float32).tiny)
    return np.pad(out, ((0, 0), (0, length - out.shape[-1]))) if out.shape[-1] < length else out


PARK = FrontEnd()


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr's HQ filter, float32 out: exactly librosa.resample's default
    (soxr_hq, length ceil(n · ratio)), without the 2 s that librosa's first call spends importing scipy and numba."""
    audio = np.asarray(audio, dtype=np.float32)
    if orig_sr == target_sr:
        return audio
    import soxr

    length = resampled_length(audio.shape[-1], orig_sr, target_sr)
    rows = audio.reshape(-1, audio.shape[-1])
    out = np.zeros((rows.shape[0], length), dtype=np.float32)
    for row, signal in zip(out, rows):
        resampled = soxr.resample(signal, orig_sr, target_sr, quality="soxr_hq")[:length]
        row[: len(resampled)] = resampled
    return out.reshape(audio.shape[:-1] + (length,))


def resampled_length(samples: int, orig_sr: int, target_sr: int) -> int:
    """How many samples `resample` returns for `samples` at orig_sr: ceil(n · target / orig), librosa's."""
    return -(-samples * target_sr // orig_sr)


class StreamResampler:
    """`resample` for a signal that arrives in pieces (one row): feed each piece to `push`, the last with
    last=True; the pieces joined equal `resample` of the whole signal (soxr's stream, same filter)."""

    def __init__(self, orig_sr: int, target_sr: int):
        self.orig_sr, self.target_sr = orig_sr, target_sr
        self.pushed = self.returned = 0
        self._stream = None
        if orig_sr != target_sr:
            import soxr

            self._stream = soxr.ResampleStream(orig_sr, target_sr, 1, dtype="float32", quality="soxr_hq")

    def push(self, piece: np.ndarray, last: bool = False) -> np.ndarray:
        piece = np.asarray(piece, dtype=np.float32)
        self.pushed += len(piece)
        if self._stream is None:
            return piece
        out = self._stream.resample_chunk(piece, last=last)
        if last:  # `resample`'s length: ceil(n · ratio)
            length = resampled_length(self.pushed, self.orig_sr, self.target_sr) - self.returned
            out = np.pad(out[:length], (0, max(0, length - len(out))))
        self.returned += len(out)
        return out


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
