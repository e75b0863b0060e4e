"""From the network's 8 kHz estimates to full-band stems: soft masks, grid mapping, high band, Wiener.

The network sees Park's 8 kHz mono magnitudes (0-4 kHz). For the full-band path its two source
estimates become one soft voice mask, voice / (voice + accompaniment + eps), with accompaniment =
1 - voice, so the stems always add up to the input. `map_mask` carries that mask onto the STFT grid
of the input at its own rate (`native_grid`), interpolating linearly in time and frequency. Above
4 kHz the network sees nothing; `HIGH_BAND` lists how the mask is chosen there. `wiener` is the
optional multichannel EM post-filter (norbert, as Open-Unmix and Spleeter use it).
"""
from __future__ import annotations

import warnings

import numpy as np

from .spectrogram import FrontEnd
from .stages import timed

EPS = 1e-8
# How the voice mask is chosen above the band the network sees (per frame):
HIGH_BAND = {
    "band-ratio": "voice share of the estimated magnitude in the 2-4 kHz band",
    "average": "mean of the voice mask over all modelled bins (Spleeter's 'average' extension)",
    "edge": "the mask of the top modelled bins (3.5-4 kHz) held constant",
    "zero": "no voice above 4 kHz: the whole high band goes to the accompaniment",
}
DEFAULT_HIGH_BAND = "band-ratio"
# The voice estimate's gain in the soft mask, g·v / (g·v + a). 1 keeps the network's own masks, right for MIR-1K's
# mixtures, whose voice is as loud as its accompaniment. On produced songs, where the voice is quieter and the
# backing denser, those masks keep too little of the voice; `shsep separate` and `shsep evaluate-musdb` give it
# SONGS_VOICE_GAIN, measured on the development songs (docs/real_songs.md).
DEFAULT_VOICE_GAIN = 1.0
SONGS_VOICE_GAIN = 2.0


def check_voice_gain(voice_gain: float) -> None:
    """A clear error for a voice gain that is not a positive, finite number."""
    try:
        valid = bool(np.isfinite(voice_gain) and voice_gain > 0) and np.ndim(voice_gain) == 0
    except TypeError:  # not a number at all
        valid = False
    if not valid:
        raise ValueError(f"the voice gain is a positive number (1: the network's own masks), not {voice_gain!r}")


def voice_mask(accompaniment: np.ndarray, voice: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Soft voice mask v / (v + a + eps) from two non-negative magnitude estimates, in [0, 1]."""
    accompaniment, voice = np.maximum(accompaniment, 0), np.maximum(voice, 0)
    return (voice / (voice + accompaniment + eps)).astype(np.float32)


def low_rate_masks(accompaniment: np.ndarray, voice: np.ndarray, front_end: FrontEnd,
                   high_band: str = DEFAULT_HIGH_BAND,
                   voice_gain: float = DEFAULT_VOICE_GAIN) -> tuple[np.ndarray, np.ndarray]:
    """Two magnitude estimates at the front end's rate (bins, frames) → the soft voice mask, its voice weighted by
    voice_gain (g·v / (g·v + a)), and the mask's values above the modelled band (frames,) by the high_band rule."""
    check_voice_gain(voice_gain)
    if voice_gain != 1:
        voice = voice * voice_gain
    mask = voice_mask(accompaniment, voice)
    return mask, high_band_mask(mask, accompaniment, voice, front_end, high_band)


def high_band_mask(mask: np.ndarray, accompaniment: np.ndarray, voice: np.ndarray, front_end: FrontEnd,
                   rule: str = DEFAULT_HIGH_BAND) -> np.ndarray:
    """Per-frame voice mask (frames,) for the band above the front end's, by one of the HIGH_BAND rules."""
    if rule not in HIGH_BAND:
        raise ValueError(f"high-band rule must be one of {tuple(HIGH_BAND)}, not {rule!r}")
    hz_per_bin = front_end.sample_rate / front_end.n_fft
    top_hz = mask.shape[0] * hz_per_bin
    if rule == "zero":
        return np.zeros(mask.shape[1], np.float32)
    if rule == "average":
        return mask.mean(axis=0)
    if rule == "edge":
        return mask[int(round(top_hz * 7 / 8 / hz_per_bin)):].mean(axis=0)
    band = slice(int(round(top_hz / 2 / hz_per_bin)), mask.shape[0])
    v, a = voice[band].sum(axis=0), accompaniment[band].sum(axis=0)
    return (v / (v + a + EPS)).astype(np.float32)


def native_grid(sample_rate: int) -> FrontEnd:
    """The STFT used at the input's own rate: the largest power of two not above Park's 128 ms window (2048 at
    16 kHz, 4096 at 44.1 and 48 kHz, at least 16), a quarter of it as hop, every bin kept (so it inverts exactly)."""
    n_fft = max(16, 2 ** int(np.floor(np.log2(sample_rate * 0.128))))
    return FrontEnd(sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 4, num_bins=n_fft // 2 + 1)


def _linear_weights(positions: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour indices and weights for linear interpolation at fractional positions, clamped to [0, size-1]."""
    positions = np.clip(positions, 0, size - 1)
    lower = np.minimum(np.floor(positions).astype(np.int64), max(size - 2, 0))
    upper = np.minimum(lower + 1, size - 1)
    weight = (positions - lower).astype(np.float32)
    return lower, upper, weight


def map_mask(mask: np.ndarray, high: np.ndarray, front_end: FrontEnd, native: FrontEnd,
             num_frames: int, start_seconds: float = 0.0) -> np.ndarray:
    """The low-rate voice mask (bins, frames), plus its high-band values (frames,), on the native grid.

    Native bin j lies at j·rate/n_fft Hz and frame i at start_seconds + i·hop/rate s (start_seconds: where
    the native signal starts in the mask's time, 0 when both come from the same signal); low bin k at
    k·8000/1024 Hz and frame t at t·256/8000 s. Above the last modelled bin the mask is `high`, reached
    linearly at the first bin the network does not see (4 kHz for Park's front end).
    """
    frame_seconds = start_seconds + np.arange(num_frames) * native.hop_length / native.sample_rate
    lower, upper, weight = _linear_weights(frame_seconds * front_end.sample_rate / front_end.hop_length,
                                           mask.shape[1])
    first, last = int(lower.min()), int(upper.max()) + 1  # the low-rate frames these native frames need
    extended = np.concatenate([mask[:, first:last], high[None, first:last]], axis=0).T  # (frames, bins + 1)
    lower, upper, weight = lower - first, upper - first, weight[:, None]
    by_time = extended[lower] * (1 - weight) + extended[upper] * weight  # (native frames, low bins + 1)
    hz_per_low_bin = front_end.sample_rate / front_end.n_fft
    bin_hz = np.arange(native.n_fft // 2 + 1) * native.sample_rate / native.n_fft
    lower, upper, weight = _linear_weights(bin_hz / hz_per_low_bin, extended.shape[1])
    # np.take into C-ordered arrays: indexing `by_time[:, lower]` may hand back each bin's frames contiguous, and
    # the mixture's STFT keeps each frame's bins contiguous; multiplying across the two layouts strides through
    # memory (2.6x slower on a 60 s block of 44.1 kHz stereo)
    mapped = np.take(by_time, lower, axis=1, out=np.empty((len(by_time), len(lower)), np.float32))
    mapped *= 1 - weight
    mapped += np.take(by_time, upper, axis=1, out=np.empty_like(mapped)) * weight
    return mapped.T  # (bins, frames), each frame's bins contiguous like `stft`'s output: multiplies without striding


def wiener(voice_magnitude: np.ndarray, accompaniment_magnitude: np.ndarray, mixture: np.ndarray,
           iterations: int = 1) -> np.ndarray:
    """Voice STFT (channels, bins, frames) refined by norbert's multichannel EM Wiener filter.

    The magnitudes and the complex mixture are (channels, bins, frames); the accompaniment is then
    the mixture minus this voice, so the stems still add up.
    """
    try:
        with warnings.catch_warnings():  # norbert 0.2.1 imports a deprecated scipy namespace
            warnings.simplefilter("ignore", DeprecationWarning)
            import norbert
    except ImportError:
        raise ValueError("the Wiener post-filter needs the norbert package: pip install norbert") from None
    v = np.stack([voice_magnitude, accompaniment_magnitude], axis=-1).transpose(2, 1, 0, 3).astype(np.float64)
    x = mixture.transpose(2, 1, 0).astype(np.complex128)
    estimates = norbert.wiener(v, x, iterations=iterations, use_softmask=True)
    return estimates[..., 0].transpose(2, 1, 0).astype(np.complex64)


def full_band_voice(audio: np.ndarray, sample_rate: int, masks: list[tuple[np.ndarray, np.ndarray]],
                    front_end: FrontEnd, wiener_iterations: int = 0, mask_start_seconds: float = 0.0) -> np.ndarray:
    """The voice stem (channels, samples) of audio (channels, samples) at its own rate.

    masks: one (low-rate voice mask, high-band values) pair for all channels, or one per channel;
    mask_start_seconds: where the audio starts in the masks' time (see `map_mask`).
    The accompaniment is the input minus this voice.
    """
    native = native_grid(sample_rate)
    length = audio.shape[-1]
    padded = np.pad(audio, ((0, 0), (0, max(0, native.n_fft - length))))
    with timed("native STFT"):
        mixture = native.analyse(padded)
    with timed("masks"):
        mapped = np.stack([map_mask(mask, high, front_end, native, mixture.shape[-1], mask_start_seconds).T
                           for mask, high in masks]).transpose(0, 2, 1)  # frame-major, like the mixture's STFT
    if wiener_iterations > 0:
        magnitude = np.abs(mixture)
        with timed("Wiener"):
            voice = wiener(mapped * magnitude, (1 - mapped) * magnitude, mixture, wiener_iterations)
    else:
        mixture *= mapped  # in place: the voice STFT, without a second block-sized array
        voice = mixture
    del mapped
    with timed("synthesis"):
        return native.synthesise(voice, length=padded.shape[-1])[:, :length].astype(np.float32)
