"""Separate audio files of any length in bounded memory: what `shsep separate` runs.

A file is read in blocks of `block_seconds` with `margin_seconds` of context each side, separated,
and the centre of each block written, so blocks join without seams. Two passes: the first finds the
maximum magnitude for Park's normalisation over the whole file, the second separates and writes.

* band "full" (default): stereo in gives stereo out, mono gives mono, at the input's own rate and
  length, full band; voice + accompaniment = the input.
* band "park": the paper's path: a mono downmix, nothing above 4 kHz, written at the input's rate.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .audio import AudioError, AudioReader, StemWriter, ensure_writable_dir
from .masking import DEFAULT_HIGH_BAND, HIGH_BAND
from .separate import CHANNEL_MODES, Separator, Stems, analysed_signals
from .stages import timed

BANDS = ("full", "park")
# norbert's EM keeps several full-size copies of the block's STFT: shorter blocks keep its memory bounded too
WIENER_BLOCK_SECONDS = 15.0
STEM_NAMES = Stems._fields


# What a folder given to `shsep separate` is searched for (its own files, not its subfolders)
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".wma", ".mp4")


def expand_inputs(paths) -> list[tuple[Path, list[Path]]]:
    """Each input path with the files it stands for: a file stands for itself, a folder for the audio files
    directly in it (by suffix, sorted by name, hidden files and the stems' partial files skipped).
    A folder without audio files is an AudioError."""
    expanded = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                           and not p.name.startswith("."))
            if not files:
                raise AudioError(f"{path} is a folder without audio files ({', '.join(AUDIO_SUFFIXES)})")
            expanded.append((path, files))
        else:
            expanded.append((path, [path]))
    return expanded


@dataclass
class SeparatedFile:
    """What `separate_file` wrote: Stems of paths (None for a stem not asked for) and the input's shape."""

    stems: Stems
    sample_rate: int
    channels: int
    seconds: float

    def describe(self, source: Path) -> str:
        written = ", ".join(str(p) for p in self.stems if p is not None)
        channel_word = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels} channels")
        return f"{source} ({self.sample_rate} Hz, {channel_word}, {self.seconds:.1f} s) -> {written}"


def separate_file(separator: Separator, input_path: str | os.PathLike, out_dir: str | os.PathLike,
                  band: str = "full", stems: tuple[str, ...] = STEM_NAMES, file_format: str = "wav",
                  channels: str = "downmix", high_band: str = DEFAULT_HIGH_BAND, wiener_iterations: int = 0,
                  block_seconds: float = 60.0, margin_seconds: float = 4.0, progress: bool = True) -> SeparatedFile:
    """Separate one audio file into ``<name>_voice.<format>`` and/or ``<name>_accompaniment.<format>`` in out_dir.

    channels, high_band and wiener_iterations are the full-band path's options (`Separator.separate_full_band`).
    """
    if band not in BANDS:
        raise ValueError(f"band must be one of {BANDS}, not {band!r}")
    unknown = [s for s in stems if s not in STEM_NAMES]
    if unknown or not stems:
        raise ValueError(f"stems must be among {STEM_NAMES}, not {list(stems)}")
    if high_band not in HIGH_BAND:
        raise ValueError(f"high-band rule must be one of {tuple(HIGH_BAND)}, not {high_band!r}")
    if channels not in CHANNEL_MODES:
        raise ValueError(f"channels must be one of {CHANNEL_MODES}, not {channels!r}")
    if wiener_iterations < 0:
        raise ValueError(f"Wiener iterations must be 0 (off) or more, not {wiener_iterations}")
    input_path = Path(input_path)
    out_dir = ensure_writable_dir(out_dir)
    with AudioReader(input_path) as reader:
        rate, total = reader.rate, reader.frames
        if total == 0:
            raise AudioError(f"{input_path} holds no audio samples")
        out_channels = 1 if band == "park" else reader.channels
        if band == "full" and wiener_iterations:
            block_seconds = min(block_seconds, WIENER_BLOCK_SECONDS)
        block, margin = max(1, int(block_seconds * rate)), int(margin_seconds * rate)
        starts = list(range(0, total, block))

        analysed_channels = channels if band == "full" else "downmix"  # Park's path always sees the downmix
        scales = None
        for start in starts:
            with timed("decode"):
                audio = reader.read(start, start + block)
            block_scales = [separator.max_magnitude(s, rate) for s in analysed_signals(audio, analysed_channels)]
            scales = block_scales if scales is None else [max(a, b) for a, b in zip(scales, block_scales)]
        paths = Stems(*(out_dir / f"{input_path.stem}_{name}.{file_format}" if name in stems else None
                        for name in STEM_NAMES))
        writers = Stems(*(StemWriter(p, rate, out_channels, file_format) if p is not None else None for p in paths))
        from .progress import progress_over

        complete = False
        try:
            for start in progress_over(starts, description=input_path.name, unit="blocks",
                                       enabled=progress and len(starts) > 1):
                stop = min(total, start + block)
                context_start = max(0, start - margin)
                with timed("decode"):
                    audio = reader.read(context_start, stop + margin)
                if band == "park":
                    separated = separator.separate(audio.mean(axis=0), rate, scale=scales[0])
                    separated = Stems(*(s[None] for s in separated))
                else:
                    separated = separator.separate_full_band(audio, rate, scale=scales, channels=channels,
                                                             high_band=high_band, wiener_iterations=wiener_iterations)
                for writer, estimate in zip(writers, separated):
                    if writer is not None:
                        with timed("write"):
                            writer.write(estimate[:, start - context_start: stop - context_start])
            complete = True
        finally:  # every stem complete gets its final name; an interrupted run leaves none under it
            for writer in writers:
                if writer is not None:
                    writer.close(keep=complete)
        return SeparatedFile(paths, rate, reader.channels, total / rate)
