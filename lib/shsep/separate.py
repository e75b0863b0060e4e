"""Separation: Park's sliding 64-frame windows (hop 32, centre kept) through the network, two output paths.

`Separator` runs a trained network over the front end's 8 kHz mono magnitudes and offers:
* `separate`: Park's path, the paper's evaluation protocol: masks clipped at 0, mixture phase, ISTFT at
  8 kHz, resampled back; mono in, mono out, nothing above 4 kHz.
* `separate_full_band`: the path for real songs: the estimates become soft masks (`masking`) applied to
  the input's own STFT, per channel, at its own rate; stems add up to the input.
Files of any length are separated in blocks by `predict.separate_file`. The network runs in PyTorch or, as
int8, in ONNX Runtime (`networks`); this module itself never imports torch.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from . import masking
from .networks import MeanNetwork, OnnxNetwork, TorchNetwork, file_sha1, int8_model_for, resolve_precision
from .paths import SHIPPED_MODEL, SHIPPED_RUN, SONGS_MODELS, SONGS_RUN, project_relative
from .spectrogram import PARK, FrontEnd, resample
from .stages import timed
from .windowing import DEFAULT_WINDOWING, WINDOWINGS, fitted_windows, window_plan


def trained_or_shipped(run_dir: str | os.PathLike, songs: bool = False) -> tuple[Path | tuple[Path, ...], str]:
    """The run's checkpoint if it has one (the best on its validation songs, where it kept one), else what shsep
    ships: the cpu model (Park's protocol), or with songs=True the pair of models that `shsep separate` averages
    (`paths.SONGS_MODELS`); plus a line saying which, for readers. Either goes to `Separator.from_checkpoint`."""
    for name, about in (("best.pt", "best validation checkpoint"), ("checkpoint.pt", "checkpoint")):
        checkpoint = Path(run_dir) / name
        if checkpoint.exists():
            return checkpoint, f"model: the {about} trained in runs/{Path(run_dir).name}/"
    if songs:
        files = " and ".join(f"lib/shsep/weights/{m.name}" for m in SONGS_MODELS)
        shipped = f"the songs and cpu models shipped with shsep, averaged ({files})"
        model, records = SONGS_MODELS, f"results/{SONGS_RUN.name}/ and results/{SHIPPED_RUN.name}/"
    else:
        shipped = f"the cpu model shipped with shsep (lib/shsep/weights/{SHIPPED_MODEL.name})"
        model, records = SHIPPED_MODEL, f"results/{SHIPPED_RUN.name}/"
    if Path(run_dir) in (SHIPPED_RUN, SONGS_RUN):
        return model, f"model: {shipped}, trained by the runs recorded in {records}"
    return model, f"model: {shipped}, since runs/{Path(run_dir).name}/ holds no trained checkpoint"


POST_FILTERS = {
    # how Park's path turns the two magnitude estimates into waveforms
    "none": "each estimate with the mixture's phase (Park's; the paper's protocol)",
    "soft-mask": "the soft voice mask v / (v + a) applied to the mixture's STFT: the stems add up to the "
                 "band-limited mixture (measured on the validation songs: scripts/inference_choices.py)",
}


class Separator:
    """A trained network plus sliding windows; `batch_size` windows go through the network at once
    (default: 16 on CUDA, 1 on CPU).

    model: a PyTorch module (run by `networks.TorchNetwork`), or a network ready to run (`networks.TorchNetwork`,
        `networks.OnnxNetwork` for int8, `networks.MeanNetwork` for several models; its target and precision come
        with it): `from_checkpoint` loads those.
    windowing: "park" (64-frame windows every 32 frames, the paper's protocol) or "long" (see `windowing.WINDOWINGS`).
    precision: for a PyTorch module "fp32", "bf16" (autocast) or "auto" (bf16 on CUDA and on CPUs with native
        bf16, else fp32); see `networks.resolve_precision`.
    post_filter: Park's path only, see POST_FILTERS ("none": the paper's protocol).
    shifts: test-time averaging: the windows are laid `shifts` times, the k-th time k·32/shifts frames later
        (fractions of Park's window step), and the estimates averaged; costs `shifts` times the network
        (1: off, the paper's protocol).
    device: where the network runs; the model is moved there (default: where the model already is).
    checkpoints: the files the network was loaded from, for the record (`checkpoint_label`).
    """

    def __init__(self, model, target: str = "masks", front_end: FrontEnd = PARK,
                 batch_size: int | None = None, device=None,
                 park_istft_quirk: bool = False, windowing: str = DEFAULT_WINDOWING, precision: str = "fp32",
                 post_filter: str = "none", shifts: int = 1, checkpoints: Sequence[Path] = ()):
        if not isinstance(model, (TorchNetwork, OnnxNetwork, MeanNetwork)):  # a PyTorch module
            model = TorchNetwork(model, target, device, precision)
        self.network, self.device, self.target, precision = model, model.device, model.target, model.precision
        self.model = getattr(model, "model", None)  # the PyTorch module, where there is one
        self.front_end = front_end
        # Batching windows pays on a GPU (the report's speed-up); on CPU the benchmark measured one window
        # per pass as faster for the cpu model (benchmarks/benchmark.py).
        self.batch_size = max(1, int(batch_size or (16 if str(self.device).startswith("cuda") else 1)))
        self.park_istft_quirk = park_istft_quirk
        if windowing not in WINDOWINGS:
            raise ValueError(f"windowing must be one of {tuple(WINDOWINGS)}, not {windowing!r}")
        self.windowing = windowing
        self.precision = precision
        if post_filter not in POST_FILTERS:
            raise ValueError(f"post_filter must be one of {tuple(POST_FILTERS)}, not {post_filter!r}")
        self.post_filter = post_filter
        if not isinstance(shifts, (int, np.integer)) or shifts < 1:
            raise ValueError(f"shifts must be a whole number of at least 1, not {shifts!r}")
        self.shifts = int(shifts)
        self.checkpoints = list(checkpoints)  # where the network was loaded from (`from_checkpoint`)

    def shift_offsets(self) -> list[int]:
        """The frame offsets the windows are laid at: k·(half a patch)/shifts for k < shifts."""
        half_patch = self.front_end.patch_frames // 2
        return sorted({round(k * half_patch / self.shifts) for k in range(self.shifts)})

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                        device: str | None = None, precision: str = "fp32", int8_runtime: str = "auto",
                        **kwargs) -> "Separator":
        """Load a checkpoint, or several whose estimates are averaged (`networks.MeanNetwork`; default: the two
        shipped models, `paths.SONGS_MODELS`, what `shsep separate` uses). Precision "int8" (or "auto" where it
        resolves to int8) loads each checkpoint's ONNX export instead, run by `int8_runtime`
        (`networks.int8_runtime`), and never imports torch."""
        paths = checkpoint_paths(path)
        if device is None and precision in ("int8", "auto") and not _cuda_present():
            device = "cpu"
        if device is None:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        loaded = [_load_network(p, device, precision, int8_runtime) for p in paths]
        front_end = loaded[0][1]
        for p, (_, other) in zip(paths[1:], loaded[1:]):
            if other != front_end:
                raise ValueError(f"{p} analyses the signal differently from {paths[0]} ({other} against "
                                 f"{front_end}): only models with one front end can be averaged")
        networks = [network for network, _ in loaded]
        return cls(networks[0] if len(networks) == 1 else MeanNetwork(networks), front_end=front_end,
                   checkpoints=paths, **kwargs)

    @property
    def checkpoint_label(self) -> str:
        """The checkpoints this separator runs, as a summary records them ("A + B" where averaged; the project's
        own files relative to it); "" for a separator built from a module."""
        return " + ".join(project_relative(path) for path in self.checkpoints)

    def separate_magnitudes(self, mixture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised mixture magnitudes (bins, frames) → (accompaniment, voice) magnitudes, same shape; with
        shifts > 1, the mean over windows laid at each of `shift_offsets` (silence padded before the first frame)."""
        frames = mixture.shape[-1]
        offsets = self.shift_offsets()
        if offsets == [0]:
            return self._windows_through_network(mixture)
        accompaniment, voice = np.zeros_like(mixture), np.zeros_like(mixture)
        for offset in offsets:
            a, v = self._windows_through_network(np.pad(mixture, ((0, 0), (offset, 0))))
            accompaniment += a[:, offset: offset + frames]
            voice += v[:, offset: offset + frames]
        return accompaniment / len(offsets), voice / len(offsets)

    def warm_up(self, low_samples: int) -> None:
        """Let the network prepare, in the background, for the windows of a signal of low_samples samples at the
        front end's rate (`low_rate_masks`' input; an OpenVINO network compiles its graph for their shape, others
        need nothing)."""
        if hasattr(self.network, "warm_up"):
            frames = self.front_end.num_frames(max(self.front_end.n_fft, low_samples))  # padded as analysed
            self.network.warm_up(self.first_window_shape(frames))

    def first_window_shape(self, num_frames: int) -> tuple[int, int, int, int]:
        """The shape of the first batch of windows `separate_magnitudes` gives the network for num_frames frames
        (its first pass lays them from frame 0, whatever the shifts)."""
        window, plan = self._window_layout(num_frames)
        return min(self.batch_size, len(plan)), 1, self.front_end.num_bins, window

    def _window_layout(self, frames: int) -> tuple[int, list]:
        """(window frames, `windowing.window_plan`) for a spectrogram of `frames` frames (under a patch: padded
        to one)."""
        patch = self.front_end.patch_frames
        frames = max(frames, patch)
        window, step = fitted_windows(frames, *WINDOWINGS[self.windowing], patch)
        return window, window_plan(frames, window, step)

    def _windows_through_network(self, mixture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One pass of sliding windows (see `windowing.window_plan`), each keeping its centre."""
        patch = self.front_end.patch_frames
        frames = mixture.shape[-1]
        padded = np.pad(mixture, ((0, 0), (0, patch - frames))) if frames < patch else mixture
        window, plan = self._window_layout(frames)
        accompaniment = np.zeros_like(padded)
        voice = np.zeros_like(padded)
        for first in range(0, len(plan), self.batch_size):
            chunk = plan[first: first + self.batch_size]
            windows = np.stack([padded[:, s: s + window] for s, _, _ in chunk])[:, None]
            acc, voc = self.network(windows)
            for (start, keep_from, keep_to), a, v in zip(chunk, acc, voc):
                accompaniment[:, keep_from:keep_to] = a[:, keep_from - start: keep_to - start]
                voice[:, keep_from:keep_to] = v[:, keep_from - start: keep_to - start]
        return accompaniment[:, :frames], voice[:, :frames]

    def resample_and_analyse(self, mixture: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """(the signal at the front end's rate, padded to at least one STFT frame; its complex spectrogram)."""
        fe = self.front_end
        with timed("resample"):
            low = resample(mixture, sample_rate, fe.sample_rate)
        return self._analyse_low_rate(low)

    def _analyse_low_rate(self, low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A signal at the front end's rate, padded to at least one STFT frame, and its complex spectrogram."""
        fe = self.front_end
        low = np.pad(np.asarray(low, np.float32), (0, max(0, fe.n_fft - len(low))))
        with timed("analysis STFT"):
            return low, fe.analyse(low)

    def max_magnitude(self, mixture: np.ndarray, sample_rate: int) -> float:
        """The value Park's normalisation divides by: the largest magnitude of the mono signal's spectrogram."""
        return float(np.abs(self.resample_and_analyse(mixture, sample_rate)[1]).max())

    def estimate_magnitudes(self, mixture: np.ndarray, sample_rate: int, scale: float | None = None):
        """Mono waveform → (low-rate signal, its spectrogram, accompaniment and voice magnitude estimates).

        scale: the value magnitudes are normalised by (default: this signal's maximum magnitude, Park's
        per-clip normalisation; a file separated in blocks passes the whole file's). Estimates are rescaled.
        """
        low, spec = self.resample_and_analyse(mixture, sample_rate)
        accompaniment, voice = self._estimates(np.abs(spec), scale)
        return low, spec, accompaniment, voice

    def _estimates(self, magnitude: np.ndarray, scale: float | None) -> tuple[np.ndarray, np.ndarray]:
        """The network's (accompaniment, voice) magnitudes for a front-end spectrogram's magnitudes (float32,
        normalised in place by scale, default their own maximum), rescaled. In place, so that a 10-minute
        segment's estimates cost no more copies than they need."""
        if scale is None:
            scale = float(magnitude.max())
        scale = scale if scale > 0 else 1.0
        magnitude /= scale
        with timed("network"):
            accompaniment, voice = self.separate_magnitudes(magnitude)
        del magnitude
        accompaniment *= scale
        voice *= scale
        return accompaniment, voice

    def low_rate_masks(self, low: np.ndarray, scale: float | None = None, high_band: str = masking.DEFAULT_HIGH_BAND,
                       voice_gain: float = masking.DEFAULT_VOICE_GAIN) -> tuple[np.ndarray, np.ndarray]:
        """A mono signal already at the front end's rate → its soft voice mask (bins, frames) and the mask's
        values above the modelled band (frames,): what `apply_masks` carries onto the input's own grid.
        voice_gain multiplies the voice estimate before the mask is formed (`masking.DEFAULT_VOICE_GAIN`)."""
        masking.check_voice_gain(voice_gain)  # before the network runs
        accompaniment, voice = self._estimates(np.abs(self._analyse_low_rate(low)[1]), scale)
        with timed("masks"):
            return masking.low_rate_masks(accompaniment, voice, self.front_end, high_band, voice_gain)

    def separate(self, mixture: np.ndarray, sample_rate: int, scale: float | None = None) -> "Stems":
        """Park's path: mono waveform at any rate → Stems (accompaniment, voice), same rate and length, band ≤ 4 kHz."""
        fe = self.front_end
        low, spec, accompaniment, voice = self.estimate_magnitudes(mixture, sample_rate, scale)
        if self.post_filter == "soft-mask":
            with timed("masks"):
                mask = masking.voice_mask(accompaniment, voice)
                estimates = ((1 - mask) * spec, mask * spec)
        else:
            phase = np.exp(1j * np.angle(spec))
            estimates = (accompaniment * phase, voice * phase)
        outputs = []
        for estimate in estimates:
            with timed("synthesis"):
                wave = fe.synthesise(estimate, length=len(low), park_istft_quirk=self.park_istft_quirk)
            with timed("resample"):
                wave = resample(wave, fe.sample_rate, sample_rate)
            outputs.append(_fit_length(wave, len(mixture)))
        return Stems(*outputs)

    def separate_full_band(self, audio: np.ndarray, sample_rate: int, scale: float | Sequence[float] | None = None,
                           channels: str = "downmix", high_band: str = masking.DEFAULT_HIGH_BAND,
                           wiener_iterations: int = 0, voice_gain: float = masking.DEFAULT_VOICE_GAIN) -> "Stems":
        """The full-band path: (channels, samples) or (samples,) at any rate → Stems of the same shape and rate.

        The network analyses the downmix (one mask for every channel, `channels="downmix"`) or each channel
        (`"per-channel"`, one network pass each); its estimates become a soft voice mask applied to the
        input's own STFT (see `masking`). voice + accompaniment equals the input up to rounding.
        scale: one value, or one per analysed signal (see `estimate_magnitudes`); voice_gain: see `low_rate_masks`.
        """
        audio = np.asarray(audio, dtype=np.float32)
        multichannel = audio.ndim == 2
        audio = np.atleast_2d(audio)
        if channels not in CHANNEL_MODES:
            raise ValueError(f"channels must be one of {CHANNEL_MODES}, not {channels!r}")
        signals = analysed_signals(audio, channels)
        self.prepare_for(wiener_iterations)
        scales = list(scale) if isinstance(scale, (list, tuple, np.ndarray)) else [scale] * len(signals)
        masks = []
        for signal, signal_scale in zip(signals, scales):
            with timed("resample"):
                low = resample(signal, sample_rate, self.front_end.sample_rate)
            masks.append(self.low_rate_masks(low, signal_scale, high_band, voice_gain))
        stems = self.apply_masks(audio, sample_rate, masks, wiener_iterations)
        return stems if multichannel else Stems(stems.accompaniment[0], stems.voice[0])

    def prepare_for(self, wiener_iterations: int) -> None:
        """Set up the network for the full-band path's options (int8: a smaller memory arena under Wiener,
        which keeps that path's peak under 1 GiB)."""
        if hasattr(self.network, "shrink_arena"):
            self.network.shrink_arena = wiener_iterations > 0

    def apply_masks(self, audio: np.ndarray, sample_rate: int, masks: list[tuple[np.ndarray, np.ndarray]],
                    wiener_iterations: int = 0, mask_start_seconds: float = 0.0) -> "Stems":
        """(channels, samples) audio and its `low_rate_masks` (one pair for all channels, or one per channel)
        → Stems (channels, samples) that add up to the audio; mask_start_seconds: where the audio starts in
        the masks' time (a block of a longer file)."""
        voice = masking.full_band_voice(audio, sample_rate, masks, self.front_end, wiener_iterations,
                                        mask_start_seconds)
        return Stems(audio - voice, voice)


CHANNEL_MODES = ("downmix", "per-channel")


def analysed_signals(audio: np.ndarray, channels: str = "downmix") -> list[np.ndarray]:
    """The mono signals the network analyses for (channels, samples) audio: the downmix, or each channel."""
    return [audio.mean(axis=0)] if channels == "downmix" else list(audio)


def checkpoint_paths(path: str | os.PathLike | Sequence[str | os.PathLike] | None) -> list[Path]:
    """One checkpoint or several as a list of paths; None stands for the models `shsep separate` uses."""
    if path is None:
        return list(SONGS_MODELS)
    paths = [Path(path)] if isinstance(path, (str, os.PathLike)) else [Path(p) for p in path]
    if not paths:
        raise ValueError("no checkpoint given")
    return paths


def _load_network(path: Path, device, precision: str, int8_runtime: str):
    """(the network that runs a checkpoint, its front end): its int8 export where the precision asks for one and
    it is current, else the checkpoint in PyTorch."""
    chosen = resolve_precision(precision, str(device).split(":")[0], path)
    if chosen == "int8":
        if str(device) != "cpu":
            raise ValueError(f"int8 runs on the CPU only (ONNX Runtime or OpenVINO), not on {device}")
        network = OnnxNetwork(int8_model_for(path), runtime=int8_runtime)
        if network.source_sha1 == file_sha1(path):
            return network, FrontEnd(**network.front_end)
        if precision == "int8":
            raise ValueError(f"{network.path} was exported from another checkpoint than {path}: "
                             f"run `shsep export-int8 {path}` again")
        chosen = resolve_precision("auto", "cpu")  # a stale export: the checkpoint itself, in PyTorch
        print(f"note: {network.path.name} was exported from another checkpoint; running {Path(path).name} in "
              f"PyTorch ({chosen}) instead (`shsep export-int8 {path}` makes a new export)", file=sys.stderr)
    from .checkpoints import load_model

    model, config = load_model(path, device)
    front_end = FrontEnd(**config.get("front_end", {}))  # checkpoints before it was recorded: Park's
    return TorchNetwork(model, config.get("target", "masks"), device, chosen), front_end


def _cuda_present() -> bool:
    """Whether a CUDA device may be there, without importing torch where no NVIDIA driver is installed."""
    if not (os.path.exists("/proc/driver/nvidia") or os.environ.get("CUDA_VISIBLE_DEVICES")):
        return False
    import torch

    return torch.cuda.is_available()


class Stems(NamedTuple):
    """The two separated sources, in Park's order (accompaniment first): waveforms, magnitudes or paths."""

    accompaniment: object
    voice: object


def _fit_length(wave: np.ndarray, length: int) -> np.ndarray:
    return wave[:length] if len(wave) >= length else np.pad(wave, (0, length - len(wave)))
