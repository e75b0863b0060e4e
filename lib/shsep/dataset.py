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

    def __init__(self, clips: list[Clip], front_end: FrontEnd = PARK, use_cache: bool = True, progress: bool = True,
                 voice_shifts: tuple = (), voice_formants: float = 1.0, accompaniment_shifts: tuple = ()):
        if not clips:
            raise ValueError("StemSpectrograms needs at least one clip")
        self.front_end, self.voice_formants = front_end, voice_formants
        self.stems = cached_clip_arrays("stems", clips, front_end, lambda c: self._compute(c, progress), use_cache)
        self.frame_counts = [s.shape[-1] for s in self.stems]
        formants = "" if voice_formants == 1 else f"-formants{voice_formants:g}"
        self.shifted_voices = {
            shift: cached_clip_arrays(f"voice{shift:+g}st{formants}", clips, front_end,
                                      lambda c, shift=shift: self._compute_shifted(c, shift, progress), use_cache)
            for shift in voice_shifts}
        self.shifted_accompaniments = {
            shift: cached_clip_arrays(f"accompaniment{shift:+g}st", clips, front_end,
                                      lambda c, shift=shift: self._compute_shifted(c, shift, progress, source=0),
                                      use_cache)
            for shift in accompaniment_shifts}

    def _compute(self, clips, progress):
        from .progress import progress_over

        result = []
        for clip in progress_over(clips, description="stem spectrograms", unit="clips", enabled=progress):
            sources = load_sources(clip, self.front_end.sample_rate)
            accompaniment, voice = (self.front_end.analyse(x) for x in (sources.accompaniment, sources.voice))
            scale = float(np.abs((accompaniment + voice) / 2).max()) or 1.0  # Park's per-clip normalisation
            result.append((np.stack([accompaniment, voice]) / scale).astype(np.complex64))
        return result

    def _compute_shifted(self, clips, semitones, progress, source: int = 1):
        """Each clip's stem (0: accompaniment, 1: voice) shifted by `semitones` (`shift_by_resampling`), divided by
        its clip's mixture scale; a voice's formants moved back by the share voice_formants says should not move."""
        from .progress import progress_over

        name = ("accompaniments", "voices")[source]
        result = []
        for clip in progress_over(clips, description=f"{name} {semitones:+g} semitones", unit="clips",
                                  enabled=progress):
            sources = load_sources(clip, self.front_end.sample_rate)
            scale = float(np.abs(self.front_end.analyse(sources.mixture)).max()) or 1.0
            stem = (sources.accompaniment, sources.voice)[source]
            shifted = self.front_end.analyse(shift_by_resampling(stem, semitones))
            if source == 1 and self.voice_formants != 1:  # move the formants back by the share that should not move
                shifted = move_formants(shifted, 2 ** (semitones * (1 - self.voice_formants) / 12))
            result.append((shifted / scale).astype(np.complex64))
        return result

    def window(self, clip: int, start: int, source: int, history: int = 0) -> np.ndarray:
        """Frames [start, start + patch) of one stem (0: accompaniment, 1: voice), after `history` frames of what
        precedes them (zeros before the clip's start)."""
        return _window_with_history(self.stems[clip][source], start, self.front_end.patch_frames, history)

    def shifted_voice_window(self, clip: int, start: int, semitones: float, history: int = 0) -> np.ndarray:
        """The voice window of (clip, start) in the voice shifted by `semitones`: the same place in the song,
        whose frames are fewer (higher) or more (lower) than the original's."""
        return self._shifted_window(self.shifted_voices[semitones][clip], clip, start, history)

    def shifted_accompaniment_window(self, clip: int, start: int, semitones: float) -> np.ndarray:
        """The accompaniment window of (clip, start) in the accompaniment shifted by `semitones`, likewise."""
        return self._shifted_window(self.shifted_accompaniments[semitones][clip], clip, start, 0)

    def _shifted_window(self, shifted: np.ndarray, clip: int, start: int, history: int) -> np.ndarray:
        frames, patch = shifted.shape[-1], self.front_end.patch_frames
        shifted_start = min(round(start * frames / self.frame_counts[clip]), max(0, frames - patch))
        return _window_with_history(shifted, shifted_start, patch, history)


def _window_with_history(spectrogram: np.ndarray, start: int, patch_frames: int, history: int) -> np.ndarray:
    """`extract_patch` with `history` frames before it, zeros where they fall before the first frame."""
    patch = extract_patch(spectrogram, start, patch_frames)
    if not history:
        return patch
    before = spectrogram[..., max(0, start - history): start] if spectrogram.shape[-1] >= patch_frames else \
        spectrogram[..., :0]
    missing = history - before.shape[-1]
    before = np.pad(before, [(0, 0)] * (before.ndim - 1) + [(missing, 0)])
    return np.concatenate([before, patch], axis=-1)


def shift_by_resampling(audio: np.ndarray, semitones: float) -> np.ndarray:
    """The signal played 2^(semitones/12) times faster: pitch and formants move together, as in a tape
    speed change, and the duration shrinks by the same factor (a higher, shorter voice for semitones > 0)."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    speed = Fraction(2 ** (semitones / 12)).limit_denominator(64)
    return resample_poly(audio, speed.denominator, speed.numerator).astype(np.float32)


ENVELOPE_QUEFRENCIES = 20  # cepstral coefficients kept for the spectral envelope: 2.5 ms at 8 kHz, under the
# pitch period of voices up to 400 Hz
ENVELOPE_FLOOR = 1e-4  # magnitudes under this share of the spectrogram's largest count as this (silence: no gain)
FORMANT_GAIN_LIMIT_DB = 20.0


def spectral_log_envelope(magnitudes: np.ndarray, floor: float) -> np.ndarray:
    """The log spectral envelope of each frame of magnitudes (bins, frames): the real cepstrum's first
    ENVELOPE_QUEFRENCIES coefficients, which keep the formants and drop the harmonics."""
    log_magnitudes = np.log(np.maximum(magnitudes, floor))
    length = 2 * (magnitudes.shape[0] - 1)
    cepstrum = np.fft.irfft(log_magnitudes, n=length, axis=0)
    cepstrum[ENVELOPE_QUEFRENCIES:length - ENVELOPE_QUEFRENCIES + 1] = 0
    return np.fft.rfft(cepstrum, axis=0).real[:magnitudes.shape[0]]


def move_formants(spectrogram: np.ndarray, ratio: float) -> np.ndarray:
    """A complex spectrogram (bins, frames) whose spectral envelope is moved by `ratio` in frequency
    (the envelope at f becomes the one at f × ratio), its harmonics and phase kept: each frame is multiplied by
    the ratio of the two envelopes, limited to ±FORMANT_GAIN_LIMIT_DB. After `shift_by_resampling` by r,
    ratio r puts the formants back where they were and keeps only the pitch shift."""
    magnitudes = np.abs(spectrogram)
    envelope = spectral_log_envelope(magnitudes, ENVELOPE_FLOOR * float(magnitudes.max() or 1.0))
    bins = magnitudes.shape[0]
    source = np.clip(np.arange(bins) * ratio, 0, bins - 1)
    below = np.minimum(source.astype(int), bins - 2)
    weight = (source - below)[:, None]
    moved = envelope[below] * (1 - weight) + envelope[below + 1] * weight
    limit = FORMANT_GAIN_LIMIT_DB * np.log(10) / 20
    return spectrogram * np.exp(np.clip(moved - envelope, -limit, limit)).astype(np.float32)


def random_equaliser(rng: np.random.Generator, front_end: FrontEnd, max_db: float) -> np.ndarray:
    """Gains (num_bins,) of a random smooth EQ: a tilt over log frequency (±max_db/2 at 100 Hz and at the top
    bin, opposite signs) plus one peak or notch about an octave wide (±max_db, centre log-uniform 150 Hz–3 kHz)."""
    frequencies = np.maximum(np.arange(front_end.num_bins) * front_end.sample_rate / front_end.n_fft, 1.0)
    top = np.log2(front_end.sample_rate / 2 / 100.0)
    octaves = np.clip(np.log2(frequencies / 100.0), 0, top)
    tilt, peak = rng.uniform(-max_db, max_db, size=2)
    centre = rng.uniform(np.log2(1.5), np.log2(30))
    gains_db = tilt * (octaves / top - 0.5) + peak * np.exp(-0.5 * ((octaves - centre) / 0.5) ** 2)
    return (10 ** (gains_db / 20)).astype(np.float32)


REVERB_SECONDS = (0.4, 2.5)  # the random room's reverberation time (T60) at low frequencies
REVERB_DIRECT_DB = (0.0, 12.0)  # its direct-to-reverberant energy ratio


def reverb_history(front_end: FrontEnd) -> int:
    """Frames before a window that the longest random room's tail reaches into it."""
    return int(np.ceil(REVERB_SECONDS[1] * front_end.sample_rate / front_end.hop_length))


def random_reverb(rng: np.random.Generator, front_end: FrontEnd) -> np.ndarray:
    """A random room as a filter over STFT frames, (num_bins, taps) complex: the direct sound (tap 0, gain 1)
    and a late tail of complex Gaussian noise decaying by 60 dB over a reverberation time uniform in
    `REVERB_SECONDS` at 0 Hz, half that at the top bin (air and walls absorb highs), scaled to a
    direct-to-reverberant ratio uniform in `REVERB_DIRECT_DB`. The subband model of late reverberation: the
    STFT of a voice in the room is, bin by bin, this filter run over the voice's frames (`apply_reverb`)."""
    frame_seconds = front_end.hop_length / front_end.sample_rate
    low_t60 = rng.uniform(*REVERB_SECONDS)
    t60 = low_t60 * (1 - 0.5 * np.arange(front_end.num_bins) / front_end.num_bins)  # per bin
    taps = np.arange(reverb_history(front_end) + 1)
    envelope = np.exp(-6.91 * taps[None, :] * frame_seconds / t60[:, None])  # amplitude: −60 dB at t60
    envelope[:, 0] = 0.0
    tail = envelope * (rng.standard_normal(envelope.shape) + 1j * rng.standard_normal(envelope.shape)) / np.sqrt(2)
    tail_energy = float(np.mean(np.sum(envelope ** 2, axis=1)))
    direct_to_reverberant = 10 ** (rng.uniform(*REVERB_DIRECT_DB) / 10)
    room = tail / np.sqrt(tail_energy * direct_to_reverberant)
    room[:, 0] = 1.0
    return room.astype(np.complex64)


COMPRESSOR_DEPTH_DB = (6.0, 24.0)  # the threshold, this far below the loudest frame
COMPRESSOR_RATIOS = (2.0, 8.0)
COMPRESSOR_RELEASE_SECONDS = 0.1


def random_compressor(rng: np.random.Generator, frames: np.ndarray, front_end: FrontEnd) -> np.ndarray:
    """Gains (frames,) of a random compressor on `frames` (bins, frames): levels above a threshold 6-24 dB below
    the loudest frame are reduced by a ratio of 2 to 8, the gain falling at once and recovering over 0.1 s, as a
    produced vocal's dynamics are flattened before it is mixed."""
    level_db = 10 * np.log10(np.mean(np.abs(frames) ** 2, axis=0) + 1e-12)
    threshold = level_db.max() - rng.uniform(*COMPRESSOR_DEPTH_DB)
    target_db = -np.maximum(0.0, level_db - threshold) * (1 - 1 / rng.uniform(*COMPRESSOR_RATIOS))
    recovery = np.exp(-front_end.hop_length / front_end.sample_rate / COMPRESSOR_RELEASE_SECONDS)
    gain_db, previous = np.empty_like(target_db), 0.0
    for t, target in enumerate(target_db):  # attack at once, release over COMPRESSOR_RELEASE_SECONDS
        previous = min(target, recovery * previous + (1 - recovery) * target)
        gain_db[t] = previous
    return (10 ** (gain_db / 20)).astype(np.float32)


def apply_reverb(frames: np.ndarray, room: np.ndarray, history: int) -> np.ndarray:
    """The last frames.shape[-1] − history frames of `frames` (bins, frames) filtered by `room` (bins, taps),
    taps ≤ history + 1: each output frame sums the taps over the frames before it, history included."""
    total = frames.shape[-1] + room.shape[-1] - 1
    size = 1 << (total - 1).bit_length()
    filtered = np.fft.ifft(np.fft.fft(frames, size, axis=-1) * np.fft.fft(room, size, axis=-1), axis=-1)
    return filtered[..., history: frames.shape[-1]].astype(np.complex64)


class TrainingBatches:
    """The training batches of a run: deterministic in (seed, draw index), so a resumed run sees the same data.

    remix = 0: every element is a real window (`SpectrogramSet`, Park's data). remix = p > 0: each element is,
    with probability p, a remix (the voice of one window, the accompaniment of another, each drawn by the
    sampler, at gains uniform in `remix_gains`), otherwise a real window; a remix louder than 1 is scaled down to 1.
    In a remix, with probability voice_shift the voice is one of its copies shifted by `voice_shifts` semitones
    (`shift_by_resampling`: new voices from the training singers), its formants following the pitch by the share
    voice_formants (1: together, as resampling moves them; 0: kept, `move_formants`), and equaliser_db > 0 gives
    each source its own random EQ (`random_equaliser`) of up to that many dB. With probability reverb, a remix's
    voice is sung in a random room (`random_reverb`): the target is then the reverberant voice, as a produced song's
    vocal stem is; with probability compression, its dynamics are first flattened by a random compressor
    (`random_compressor`). With probability accompaniment_shift, a remix's accompaniment is one of its copies
    shifted by `accompaniment_shifts` semitones (new keys and tempi for the training songs' accompaniments). With
    probability accompaniment_layers, a second clip's accompaniment, drawn and gained like the first, is added to
    it: a denser backing, the voice quieter against it, as in produced songs.
    """

    REMIX_STREAM = 7_919  # keeps the remix draws apart from the sampler's

    def __init__(self, clips: list[Clip], front_end: FrontEnd, sampler: str, seed: int, remix: float = 0.0,
                 remix_gains: tuple[float, float] = (0.25, 1.25), progress: bool = True, voice_shift: float = 0.0,
                 voice_shifts: tuple = (), voice_formants: float = 1.0, equaliser_db: float = 0.0, reverb: float = 0.0,
                 compression: float = 0.0, accompaniment_shift: float = 0.0, accompaniment_shifts: tuple = (),
                 accompaniment_layers: float = 0.0):
        for name, value in (("remix", remix), ("voice_shift", voice_shift), ("reverb", reverb),
                            ("compression", compression), ("accompaniment_shift", accompaniment_shift),
                            ("accompaniment_layers", accompaniment_layers)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a probability in [0, 1], not {value}")
        if (voice_shift or equaliser_db or reverb or compression or accompaniment_shift or accompaniment_layers) \
                and not remix:
            raise ValueError("voice and accompaniment shifts, the random EQ, reverb, compression and accompaniment "
                             "layers act on remixes: they need remix > 0")
        if voice_shift and not voice_shifts:
            raise ValueError("voice_shift > 0 needs the semitone shifts to draw from (voice_shifts)")
        if accompaniment_shift and not accompaniment_shifts:
            raise ValueError("accompaniment_shift > 0 needs the semitone shifts to draw from (accompaniment_shifts)")
        if not 0.0 <= voice_formants <= 1.0:
            raise ValueError(f"voice_formants is the share of a shift the formants follow, 0 to 1, "
                             f"not {voice_formants}")
        if voice_formants != 1 and not voice_shift:
            raise ValueError("voice_formants says how shifted voices' formants move: it needs voice_shift > 0")
        if equaliser_db < 0:
            raise ValueError(f"equaliser_db is a largest gain in dB, at least 0, not {equaliser_db}")
        self.remix, self.gains, self.seed = remix, tuple(remix_gains), seed
        self.voice_shift, self.voice_shifts, self.equaliser_db = voice_shift, tuple(voice_shifts), equaliser_db
        self.reverb, self.compression = reverb, compression
        self.accompaniment_shift, self.accompaniment_shifts = accompaniment_shift, tuple(accompaniment_shifts)
        self.accompaniment_layers = accompaniment_layers
        self.front_end = front_end
        self.data = StemSpectrograms(clips, front_end, progress=progress, voice_formants=voice_formants,
                                     voice_shifts=self.voice_shifts if voice_shift else (),
                                     accompaniment_shifts=self.accompaniment_shifts if accompaniment_shift else ()) \
            if remix else \
            SpectrogramSet(clips, front_end, progress=progress)
        self.sampler = WindowSampler(self.data.frame_counts, front_end.patch_frames, sampler, seed)

    def batch(self, first_draw: int, count: int, with_phase: bool = False) -> tuple[torch.Tensor, ...]:
        """(mixture (B,1,F,T), accompaniment (B,F,T), voice (B,F,T)) of draws first_draw … first_draw + count − 1;
        with_phase: a fourth tensor, the complex stems (B,2,F,T), accompaniment and voice, normalised as the
        magnitudes are (the multi-resolution loss resynthesises from them). Only the remix pipeline keeps phase."""
        if with_phase and not self.remix:
            raise ValueError("the windows' phase is kept by the remix pipeline only: with_phase needs remix > 0")
        if not self.remix:
            return self.data.batch(self.sampler.draws(first_draw, count))
        elements = [self._element(first_draw + i) for i in range(count)]
        patches = torch.from_numpy(np.stack([patch for patch, _ in elements]))
        magnitudes = patches[:, 0:1], patches[:, 1], patches[:, 2]
        return (*magnitudes, torch.from_numpy(np.stack([stems for _, stems in elements]))) if with_phase else magnitudes

    def _element(self, draw: int) -> tuple[np.ndarray, np.ndarray]:
        """(3, F, T) magnitudes (mixture, accompaniment, voice), scaled so that the mixture peaks at 1 or less, and
        (2, F, T) the complex stems (accompaniment, voice) scaled alike."""
        rng = np.random.default_rng([self.seed, self.REMIX_STREAM, draw])
        voice_window = self.sampler.draw(draw)
        remixed = rng.random() < self.remix
        if remixed:
            # the accompaniment's window: a draw from a stream no training step uses
            accompaniment_window = self.sampler.draw(int(rng.integers(2**40, 2**41)))
            accompaniment_gain, voice_gain = rng.uniform(*self.gains, size=2)
        else:
            accompaniment_window, accompaniment_gain, voice_gain = voice_window, 1.0, 1.0
        # each lever draws after the older ones, so a run without it sees the batches it saw before the lever existed
        shift = None
        if remixed and self.voice_shift and rng.random() < self.voice_shift:
            shift = self.voice_shifts[int(rng.integers(len(self.voice_shifts)))]
        accompaniment_eq = voice_eq = 1.0
        if remixed and self.equaliser_db:
            accompaniment_eq = random_equaliser(rng, self.front_end, self.equaliser_db)[:, None]
            voice_eq = random_equaliser(rng, self.front_end, self.equaliser_db)[:, None]
        history = 0
        if remixed and self.reverb and rng.random() < self.reverb:
            history, room = reverb_history(self.front_end), random_reverb(rng, self.front_end)
        voice = self.data.window(*voice_window, source=1, history=history) if shift is None else \
            self.data.shifted_voice_window(*voice_window, shift, history=history)
        if remixed and self.compression and rng.random() < self.compression:  # compressed, then sent to the room
            voice = voice * random_compressor(rng, voice, self.front_end)
        if history:
            voice = apply_reverb(voice, room, history)
        if remixed and self.accompaniment_shift and rng.random() < self.accompaniment_shift:
            semitones = self.accompaniment_shifts[int(rng.integers(len(self.accompaniment_shifts)))]
            accompaniment = self.data.shifted_accompaniment_window(*accompaniment_window, semitones)
        else:
            accompaniment = self.data.window(*accompaniment_window, source=0)
        if remixed and self.accompaniment_layers and rng.random() < self.accompaniment_layers:
            second_window = self.sampler.draw(int(rng.integers(2**40, 2**41)))
            second_gain = rng.uniform(*self.gains)
            accompaniment = accompaniment + (second_gain / accompaniment_gain) * self.data.window(*second_window,
                                                                                                   source=0)
        accompaniment, voice = accompaniment_gain * accompaniment * accompaniment_eq, voice_gain * voice * voice_eq
        patch = np.stack([np.abs((accompaniment + voice) / 2), np.abs(accompaniment), np.abs(voice)])
        scale = max(1.0, float(patch[0].max()))
        return (patch / scale).astype(np.float32), (np.stack([accompaniment, voice]) / scale).astype(np.complex64)
