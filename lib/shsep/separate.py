"""Separation: sliding 64-frame windows (hop 32, centre kept), masks clipped at 0, mixture phase, ISTFT.

`Separator` works on waveforms in memory (evaluation, notebooks); `separate_file` streams a file of
any length, rate and channel count in blocks, so memory stays bounded, and writes
``<name>_voice.wav`` and ``<name>_accompaniment.wav`` at the input's rate and length.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from .checkpoints import load_model
from .data import DataError
from .spectrogram import PARK, FrontEnd, resample
from .targets import estimate_sources

_PROJECT_ROOT = Path(__file__).resolve().parent
SHIPPED_MODEL = _PROJECT_ROOT / "weights" / "cpu.pt"


def window_plan(num_frames: int, patch: int = 64, hop: int = 32) -> list[tuple[int, int, int]]:
    """(window start, first frame kept, end frame kept) for Park's sliding windows over num_frames ≥ patch.

    The first window keeps frames [0, 48); each later window keeps its centre [start+16, start+48);
    a last window aligned to the end keeps from where the previous centre stopped to the end.
    """
    if num_frames < patch:
        raise ValueError(f"need at least {patch} frames, got {num_frames} (pad first)")
    margin = (patch - hop) // 2
    plan, start = [], 0
    while start + patch <= num_frames:
        keep_from = 0 if start == 0 else start + margin
        plan.append((start, keep_from, start + patch - margin))
        start += hop
    last_start = num_frames - patch
    covered = plan[-1][2]
    if covered < num_frames:
        if last_start == plan[-1][0]:
            plan[-1] = (last_start, plan[-1][1], num_frames)
        else:
            plan.append((last_start, covered, num_frames))
    else:
        plan[-1] = (plan[-1][0], plan[-1][1], num_frames)
    return plan


class Separator:
    """A trained network plus Park's windowing; `batch_size` windows go through the network at once
    (default: 16 on CUDA, 1 on CPU)."""

    def __init__(self, model: torch.nn.Module, target: str = "masks", front_end: FrontEnd = PARK,
                 batch_size: int | None = None, device: str | torch.device = "cpu", park_istft_quirk: bool = False):
        self.model = model.eval()
        self.target = target
        self.front_end = front_end
        self.device = torch.device(device)
        # Batching windows pays on a GPU (the report's speed-up); on CPU the benchmark measured one window
        # per pass as faster for the cpu model (benchmarks/benchmark.py).
        self.batch_size = max(1, int(batch_size or (16 if self.device.type == "cuda" else 1)))
        self.park_istft_quirk = park_istft_quirk

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike | None = None, device: str | None = None, **kwargs) -> "Separator":
        """Load a checkpoint (default: the CPU model shipped with shsep)."""
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model, config = load_model(path or SHIPPED_MODEL, device)
        return cls(model, target=config.get("target", "masks"), device=device, **kwargs)

    @torch.no_grad()
    def separate_magnitudes(self, mixture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised mixture magnitudes (bins, frames) → (accompaniment, voice) magnitudes, same shape."""
        patch = self.front_end.patch_frames
        frames = mixture.shape[-1]
        padded = np.pad(mixture, ((0, 0), (0, max(0, patch - frames))))
        plan = window_plan(padded.shape[-1], patch)
        accompaniment = np.zeros_like(padded)
        voice = np.zeros_like(padded)
        for first in range(0, len(plan), self.batch_size):
            chunk = plan[first: first + self.batch_size]
            windows = np.stack([padded[:, s: s + patch] for s, _, _ in chunk])[:, None]
            x = torch.from_numpy(windows).to(self.device)
            prediction = self.model(x)[-1].float()
            acc, voc = (t.cpu().numpy() for t in estimate_sources(prediction, x, self.target))
            for (start, keep_from, keep_to), a, v in zip(chunk, acc, voc):
                accompaniment[:, keep_from:keep_to] = a[:, keep_from - start: keep_to - start]
                voice[:, keep_from:keep_to] = v[:, keep_from - start: keep_to - start]
        return accompaniment[:, :frames], voice[:, :frames]

    def analyse(self, mixture: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """(the signal at the front end's rate, padded to at least one STFT frame; its complex spectrogram)."""
        fe = self.front_end
        low = resample(mixture, sample_rate, fe.sample_rate)
        low = np.pad(low, (0, max(0, fe.n_fft - len(low))))
        return low, fe.analyse(low)

    def separate(self, mixture: np.ndarray, sample_rate: int, scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mono waveform at any rate → (accompaniment, voice) waveforms at the same rate and length.

        scale: the value magnitudes are normalised by (default: this signal's maximum magnitude,
        Park's per-clip normalisation; `separate_file` passes the whole file's).
        """
        fe = self.front_end
        length = len(mixture)
        low, spec = self.analyse(mixture, sample_rate)
        magnitude = np.abs(spec)
        if scale is None:
            scale = float(magnitude.max())
        scale = scale if scale > 0 else 1.0
        accompaniment, voice = self.separate_magnitudes((magnitude / scale).astype(np.float32))
        phase = np.exp(1j * np.angle(spec))
        outputs = []
        for estimate in (accompaniment, voice):
            wave = fe.synthesise(estimate * scale * phase, length=len(low), park_istft_quirk=self.park_istft_quirk)
            wave = resample(wave, fe.sample_rate, sample_rate)
            outputs.append(_fit_length(wave, length))
        return outputs[0], outputs[1]


def _fit_length(wave: np.ndarray, length: int) -> np.ndarray:
    return wave[:length] if len(wave) >= length else np.pad(wave, (0, length - len(wave)))


def _open_audio(path: Path) -> tuple[sf.SoundFile, Path | None]:
    """Open with libsndfile (wav, flac, ogg, mp3...); other formats are decoded to a temporary wav by ffmpeg."""
    if not path.is_file():
        raise DataError(f"input not found: {path}")
    try:
        return sf.SoundFile(str(path)), None
    except (RuntimeError, sf.LibsndfileError):
        pass
    if shutil.which("ffmpeg") is None:
        raise DataError(f"cannot read {path}: not a format libsndfile reads, and ffmpeg (which would decode it) is not installed")
    temporary = Path(tempfile.mkdtemp(prefix="shsep-")) / "decoded.wav"
    result = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-f", "wav", str(temporary)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(temporary.parent, ignore_errors=True)
        message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "unknown error"
        raise DataError(f"cannot read {path} (unreadable or not audio): {message}")
    return sf.SoundFile(str(temporary)), temporary


def _read_mono(handle: sf.SoundFile, start: int, stop: int) -> np.ndarray:
    handle.seek(max(0, start))
    block = handle.read(max(0, stop - max(0, start)), dtype="float32", always_2d=True)
    return block.mean(axis=1)


def separate_file(separator: Separator, input_path: str | os.PathLike, out_dir: str | os.PathLike,
                  block_seconds: float = 60.0, margin_seconds: float = 4.0, progress: bool = True) -> tuple[Path, Path]:
    """Separate one audio file into ``<name>_accompaniment.wav`` and ``<name>_voice.wav`` in out_dir.

    Stereo is downmixed. The file is read twice in blocks of block_seconds (plus margin_seconds of context
    each side): once to find the maximum magnitude for Park's normalisation, once to separate and write.
    """
    input_path, out_dir = Path(input_path), Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".shsep-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise DataError(f"cannot write to output directory {out_dir}: {error.strerror or error}") from None
    handle, temporary = _open_audio(input_path)
    try:
        rate, total = handle.samplerate, handle.frames
        if total == 0:
            raise DataError(f"{input_path} holds no audio samples")
        block, margin = int(block_seconds * rate), int(margin_seconds * rate)
        starts = list(range(0, total, block))
        scale = 0.0
        for start in starts:
            _, spec = separator.analyse(_read_mono(handle, start, min(total, start + block)), rate)
            scale = max(scale, float(np.abs(spec).max()))
        paths = (out_dir / f"{input_path.stem}_accompaniment.wav", out_dir / f"{input_path.stem}_voice.wav")
        writers = [sf.SoundFile(str(p), "w", samplerate=rate, channels=1, subtype="FLOAT") for p in paths]
        from tqdm.auto import tqdm

        with writers[0], writers[1]:
            for start in tqdm(starts, desc=input_path.name, unit="block", disable=not progress or len(starts) == 1):
                stop = min(total, start + block)
                context_start, context_stop = max(0, start - margin), min(total, stop + margin)
                mixture = _read_mono(handle, context_start, context_stop)
                estimates = separator.separate(mixture, rate, scale=scale)
                for writer, estimate in zip(writers, estimates):
                    writer.write(estimate[start - context_start: stop - context_start])
        return paths[1], paths[0]
    finally:
        handle.close()
        if temporary is not None:
            shutil.rmtree(temporary.parent, ignore_errors=True)
