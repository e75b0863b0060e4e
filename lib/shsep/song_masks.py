"""How much of a song's voice a mask keeps: the voice energy it misses and the accompaniment energy it lets in.

A diagnosis for real songs (docs/real_songs.md). The voice mask `shsep separate` applies, and the ideal mask that
Park's 8 kHz front end allows (v / (v + a) from the true stems' low-rate magnitudes, carried onto the song's grid
as the network's masks are), are both measured against the true stems on the song's own STFT grid (the downmix),
below the band the network sees. A mask that misses much more voice than it lets accompaniment in is too
cautious; the voice gain (`masking.SONGS_VOICE_GAIN`) is the remedy measured.
"""
from __future__ import annotations

import numpy as np

from . import masking
from .musdb import TrackAudio
from .separate import analysed_signals
from .spectrogram import FrontEnd, resample


def mask_shares(mask: np.ndarray, voice: np.ndarray, accompaniment: np.ndarray) -> dict:
    """A voice mask (bins, frames) against the true stems' STFTs on the same grid: the share of the voice's energy
    it misses, the accompaniment energy it keeps (as a share of the voice's energy), and its mean."""
    voice_energy = float((np.abs(voice) ** 2).sum())
    if voice_energy == 0:
        raise ValueError("the voice stem is silent here: its shares are undefined")
    return {"voice_missed": float((np.abs((1 - mask) * voice) ** 2).sum()) / voice_energy,
            "accompaniment_kept": float((np.abs(mask * accompaniment) ** 2).sum()) / voice_energy,
            "mean_mask": float(mask.mean())}


def separator_mask(separator, mixture: np.ndarray, rate: int, native: FrontEnd, frames: int,
                   voice_gain: float = masking.SONGS_VOICE_GAIN) -> np.ndarray:
    """The full-band voice mask (bins, frames) the separator gives the downmix of a (channels, samples) song."""
    low = resample(analysed_signals(mixture)[0], rate, separator.front_end.sample_rate)
    mask, high = separator.low_rate_masks(low, voice_gain=voice_gain)
    return masking.map_mask(mask, high, separator.front_end, native, frames)


def ideal_mask(audio: TrackAudio, front_end: FrontEnd, native: FrontEnd, frames: int) -> np.ndarray:
    """The best soft mask the front end allows: v / (v + a) from the true stems' magnitudes at its rate, with the
    default high-band rule above its band, on the song's grid."""
    def low_magnitude(stem):
        return np.abs(front_end.analyse(resample(analysed_signals(stem)[0], audio.rate, front_end.sample_rate)))

    mask, high = masking.low_rate_masks(low_magnitude(audio.accompaniment), low_magnitude(audio.vocals), front_end)
    return masking.map_mask(mask, high, front_end, native, frames)


def diagnose(separator, audio: TrackAudio, voice_gains: tuple = (1.0, masking.SONGS_VOICE_GAIN)) -> list[dict]:
    """Rows of `mask_shares` below the front end's band for the separator's masks at each voice gain and for the
    ideal mask, with the voice's share of the song's energy there."""
    native = masking.native_grid(audio.rate)
    voice, accompaniment = (native.analyse(stem).mean(axis=0) for stem in (audio.vocals, audio.accompaniment))
    frames = voice.shape[-1]
    band = np.arange(voice.shape[0]) * audio.rate / native.n_fft < separator.front_end.sample_rate / 2
    voice_energy = float((np.abs(voice[band]) ** 2).sum())
    voice_share = voice_energy / (voice_energy + float((np.abs(accompaniment[band]) ** 2).sum()))
    masks = {f"voice gain {gain:g}": separator_mask(separator, audio.mixture, audio.rate, native, frames, gain)
             for gain in voice_gains}
    masks["ideal 8 kHz mask"] = ideal_mask(audio, separator.front_end, native, frames)
    return [{"mask": name, "voice_share": voice_share} | mask_shares(mask[band], voice[band], accompaniment[band])
            for name, mask in masks.items()]
