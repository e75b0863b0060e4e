"""Audio files in and out: read any file in blocks (libsndfile, or ffmpeg for mp3/m4a/...), write stems.

`AudioReader` streams a file of any length, rate and channel count as float32 (channels, samples)
blocks; formats libsndfile cannot open are decoded once to a temporary WAV by ffmpeg.
`StemWriter` writes one output file (wav or flac) block by block. Every failure is an `AudioError`
with a message a user can act on.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from .data import DataError

FORMATS = {"wav": "FLOAT", "flac": "PCM_24"}  # output format: libsndfile subtype


class AudioError(DataError):
    """An audio file that cannot be read or written, or an output folder that cannot be used."""


class AudioReader:
    """An open audio file: `rate`, `frames`, `channels`; `read(start, stop)` → float32 (channels, samples)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise AudioError(f"input not found: {self.path}")
        self._temporary: Path | None = None
        try:
            self._handle = sf.SoundFile(str(self.path))
        except (RuntimeError, sf.LibsndfileError):
            self._handle = self._decode_with_ffmpeg()
        self.rate, self.frames, self.channels = self._handle.samplerate, self._handle.frames, self._handle.channels

    def _decode_with_ffmpeg(self) -> sf.SoundFile:
        if shutil.which("ffmpeg") is None:
            raise AudioError(f"cannot read {self.path}: not a format libsndfile reads, and ffmpeg (which would decode "
                             "it) is not installed")
        self._temporary = Path(tempfile.mkdtemp(prefix="shsep-")) / "decoded.wav"
        result = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(self.path), "-f", "wav",
                                 str(self._temporary)], capture_output=True, text=True)
        if result.returncode != 0:
            self.close()
            message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "unknown error"
            raise AudioError(f"cannot read {self.path} (unreadable or not audio): {message}")
        return sf.SoundFile(str(self._temporary))

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) of every channel, float32 (channels, samples); clipped to the file."""
        start, stop = max(0, start), min(self.frames, stop)
        self._handle.seek(start)
        block = self._handle.read(max(0, stop - start), dtype="float32", always_2d=True)
        return np.ascontiguousarray(block.T)

    def close(self) -> None:
        if getattr(self, "_handle", None) is not None:
            self._handle.close()
        if self._temporary is not None:
            shutil.rmtree(self._temporary.parent, ignore_errors=True)
            self._temporary = None

    def __enter__(self) -> "AudioReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def ensure_writable_dir(folder: str | os.PathLike) -> Path:
    """Create folder if needed and check that a file can be written there."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".shsep-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise AudioError(f"cannot write to output directory {folder}: {error.strerror or error}") from None
    return folder


def partial_path(path: str | os.PathLike) -> Path:
    """Where a stem is written until it is complete: a hidden name beside its final one (``.song_voice.wav.partial``),
    which the next run for the same stem overwrites."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


class StemWriter:
    """One output file written block by block: `write(block)` takes float32 (channels, samples).

    It is written under `partial_path` and renamed to its final name by close(keep=True), so that a run killed
    half-way leaves no file under a stem's final name; close(keep=False) removes it.
    """

    def __init__(self, path: str | os.PathLike, rate: int, channels: int, file_format: str = "wav"):
        if file_format not in FORMATS:
            raise AudioError(f"output format must be one of {', '.join(FORMATS)}, not {file_format!r}")
        self.path = Path(path)
        self.partial = partial_path(self.path)
        # FLAC stores integers: keep headroom by clipping at full scale (a sum of stems can exceed it slightly).
        self._clip = file_format != "wav"
        self._file = sf.SoundFile(str(self.partial), "w", samplerate=rate, channels=channels,
                                  subtype=FORMATS[file_format], format=file_format.upper())

    def write(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float32)
        if self._clip:
            block = np.clip(block, -1.0, 1.0)
        try:
            self._file.write(block.T)
        except (OSError, sf.SoundFileError) as error:  # a full disk, a folder removed under the run
            raise AudioError(f"cannot write {self.path.name} in {self.path.parent}: {error}") from None

    def close(self, keep: bool = True) -> None:
        """Finish the file: renamed to its final name (keep) or removed."""
        if self._file is None:
            return
        self._file.close()
        self._file = None
        if keep:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)
