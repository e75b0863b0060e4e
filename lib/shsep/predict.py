"""Separate audio files of any length in bounded memory: what `shsep separate` runs.

A file is read in blocks of `block_seconds`, separated, and the centre of each block written, so blocks
join without seams. Two passes: the first reads the whole file for Park's normalisation (the maximum
magnitude over the file), the second separates and writes.

* The full-band path keeps the network's input for the whole file from the first pass (the low-rate
  signals, 1.9 MB per minute at 8 kHz), runs the network over it once (files over `segment_seconds` in
  segments with `margin_seconds` of context), and applies the masks block by block at the input's rate:
  its stems do not depend on the block length.
* Park's path separates each block with `margin_seconds` of context each side.

* band "full" (default): stereo in gives stereo out, mono gives mono, at the input's own rate and
  length, full band; voice + accompaniment = the input.
* band "park": the paper's path: a mono downmix, nothing above 4 kHz, written at the input's rate.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import AudioError, AudioReader, StemWriter, ensure_writable_dir
from .masking import DEFAULT_HIGH_BAND, HIGH_BAND, SONGS_VOICE_GAIN, check_voice_gain, native_grid
from .separate import CHANNEL_MODES, Separator, Stems, analysed_signals
from .spectrogram import FrontEnd, StreamResampler, resampled_length
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
                  voice_gain: float = SONGS_VOICE_GAIN,
                  block_seconds: float = 60.0, margin_seconds: float = 4.0, segment_seconds: float = 600.0,
                  progress: bool = True) -> SeparatedFile:
    """Separate one audio file into ``<name>_voice.<format>`` and/or ``<name>_accompaniment.<format>`` in out_dir.

    channels, high_band, wiener_iterations and voice_gain are the full-band path's options
    (`Separator.separate_full_band`); voice_gain defaults to the one for produced songs (`masking.SONGS_VOICE_GAIN`).
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
    check_voice_gain(voice_gain)
    input_path = Path(input_path)
    out_dir = ensure_writable_dir(out_dir)
    with AudioReader(input_path) as reader:
        rate, total = reader.rate, reader.frames
        if total == 0:
            raise AudioError(f"{input_path} holds no audio samples")
        out_channels = 1 if band == "park" else reader.channels
        paths = Stems(*(out_dir / f"{input_path.stem}_{name}.{file_format}" if name in stems else None
                        for name in STEM_NAMES))
        if band == "full":
            layout = _FullBandLayout.of(separator.front_end, reader, wiener_iterations, block_seconds,
                                        margin_seconds, segment_seconds)
            low_first, low_stop = layout.low_range(0)  # the network's first windows: prepared while decoding
            separator.warm_up(low_stop - low_first)
            analysed = _low_rate_signals(separator, reader, channels, block_seconds)
            blocks = _full_band_blocks(separator, reader, analysed, high_band, wiener_iterations, voice_gain, layout)
        else:
            blocks = _park_blocks(separator, reader, block_seconds, margin_seconds)
        _write_blocks(blocks, paths, rate, out_channels, file_format, progress, input_path.name)
        return SeparatedFile(paths, rate, reader.channels, total / rate)


def _write_blocks(blocks, paths: Stems, rate: int, channels: int, file_format: str, progress: bool,
                  description: str) -> None:
    """Write the Stems of each block that `blocks` yields after its first item (the number of blocks); every stem
    complete gets its final name, an interrupted run leaves none under it. A block is written in a background
    thread while the next is computed (libsndfile frees the GIL); the stage `write` is the time spent waiting
    for it, and at most one block waits to be written."""
    from concurrent.futures import ThreadPoolExecutor

    from .progress import progress_over

    count = next(blocks)  # the generator's first item, after any whole-file pass: how many blocks follow
    writers = Stems(*(StemWriter(p, rate, channels, file_format) if p is not None else None for p in paths))

    def write(separated: Stems) -> None:
        for writer, estimate in zip(writers, separated):
            if writer is not None:
                writer.write(estimate)

    complete, pending = False, None
    with ThreadPoolExecutor(1, thread_name_prefix="stem-writer") as writing:
        try:
            for separated in progress_over(blocks, description=description, unit="blocks", total=count,
                                           enabled=progress and count > 1):
                if pending is not None:
                    with timed("write"):
                        pending.result()  # the block before, written (or its error raised)
                pending = writing.submit(write, separated)
                del separated
            if pending is not None:
                with timed("write"):
                    pending.result()
            complete = True
        finally:
            if not complete and pending is not None:
                pending.exception()  # let a write in flight finish before its file is removed
            for writer in writers:
                if writer is not None:
                    writer.close(keep=complete)


def _park_blocks(separator: Separator, reader: AudioReader, block_seconds: float, margin_seconds: float):
    """Park's path: blocks with context each side, each separated on its own (the scale is the whole file's)."""
    rate, total = reader.rate, reader.frames
    block, margin = max(1, int(block_seconds * rate)), int(margin_seconds * rate)
    starts = list(range(0, total, block))
    scale = 0.0
    for start in starts:
        with timed("decode"):
            audio = reader.read(start, start + block)
        scale = max(scale, separator.max_magnitude(audio.mean(axis=0), rate))
    yield len(starts)
    for start in starts:
        stop, context_start = min(total, start + block), max(0, start - margin)
        with timed("decode"):
            audio = reader.read(context_start, stop + margin)
        separated = separator.separate(audio.mean(axis=0), rate, scale=scale)
        yield Stems(*(s[None, start - context_start: stop - context_start] for s in separated))


def _low_rate_signals(separator: Separator, reader: AudioReader, channels: str, block_seconds: float):
    """The signals the network analyses (the downmix, or each channel), for the whole file at the front end's
    rate: read in blocks and resampled as one stream (8 kHz float32: 1.9 MB per minute and signal)."""
    rate, total, low_rate = reader.rate, reader.frames, separator.front_end.sample_rate
    block = max(1, int(block_seconds * rate))
    low_length = resampled_length(total, rate, low_rate)
    resamplers, low = None, None
    for start in range(0, total, block):
        with timed("decode"):
            audio = reader.read(start, start + block)
        signals = analysed_signals(audio, channels)
        if resamplers is None:
            resamplers = [StreamResampler(rate, low_rate) for _ in signals]
            low = np.zeros((len(signals), low_length), np.float32)  # filled in place: no second copy
        with timed("resample"):
            for resampler, signal, row in zip(resamplers, signals, low):
                first = resampler.returned
                piece = resampler.push(signal, last=start + block >= total)
                row[first: first + len(piece)] = piece
    return list(low)


@dataclass(frozen=True)
class _FullBandLayout:
    """How the full-band path splits a file: blocks of `block` input samples (on the native STFT's hop grid),
    read with `margin` samples of context each side; the network runs over segments of `segment` samples, each
    with `low_margin` samples of context at the front end's rate (`low_length` samples in all)."""

    rate: int
    total: int
    low_rate: int
    low_length: int
    block: int
    margin: int
    segment: int
    low_margin: int

    @classmethod
    def of(cls, front_end: FrontEnd, reader: AudioReader, wiener_iterations: int, block_seconds: float,
           margin_seconds: float, segment_seconds: float) -> "_FullBandLayout":
        rate, total = reader.rate, reader.frames
        native = native_grid(rate)
        if wiener_iterations:
            block_seconds = min(block_seconds, WIENER_BLOCK_SECONDS)
        block = max(1, -(-int(block_seconds * rate) // native.hop_length)) * native.hop_length  # on the hop grid
        return cls(rate, total, front_end.sample_rate, resampled_length(total, rate, front_end.sample_rate), block,
                   margin=int(margin_seconds * rate) if wiener_iterations else 2 * native.n_fft,
                   segment=max(1, int(segment_seconds / block_seconds)) * block,  # whole blocks per segment
                   low_margin=int(margin_seconds * front_end.sample_rate))

    def low_range(self, segment_start: int) -> tuple[int, int]:
        """The samples [first, stop) of the low-rate signals the network reads for the segment from segment_start."""
        first = max(0, segment_start * self.low_rate // self.rate - self.low_margin)
        stop = -(-min(self.total, segment_start + self.segment) * self.low_rate // self.rate) + self.low_margin
        return first, min(self.low_length, stop)


def _full_band_blocks(separator: Separator, reader: AudioReader, analysed: list[np.ndarray], high_band: str,
                      wiener_iterations: int, voice_gain: float, layout: _FullBandLayout):
    """The full-band path. The network runs once over each segment of the low-rate signals (the whole file up
    to the segment length; longer files in segments with some seconds of context each side), and the
    masks are applied to the input in blocks at its own rate. Blocks start on the native STFT's hop grid with
    two FFT lengths of context, so they join exactly as if the file were one block (the Wiener filter, which
    estimates over its whole block, keeps the margin's seconds of context)."""
    fe, rate, total = separator.front_end, reader.rate, reader.frames
    block, margin, segment = layout.block, layout.margin, layout.segment
    separator.prepare_for(wiener_iterations)
    scales = [_max_magnitude(fe, signal, segment * fe.sample_rate // rate, layout.low_margin) for signal in analysed]
    yield -(-total // block)
    for segment_start in range(0, total, segment):
        low_first, low_stop = layout.low_range(segment_start)
        masks = None  # the last segment's masks go before this one's are made
        masks = [separator.low_rate_masks(signal[low_first:low_stop], scale, high_band, voice_gain)
                 for signal, scale in zip(analysed, scales)]
        for start in range(segment_start, min(total, segment_start + segment), block):
            stop, context_start = min(total, start + block), max(0, start - margin)
            with timed("decode"):
                audio = reader.read(context_start, stop + margin)
            stems = separator.apply_masks(audio, rate, masks, wiener_iterations,
                                          mask_start_seconds=context_start / rate - low_first / fe.sample_rate)
            yield Stems(*(s[:, start - context_start: stop - context_start] for s in stems))


def _max_magnitude(front_end: FrontEnd, low: np.ndarray, segment: int, margin: int) -> float:
    """Park's normalisation for a whole low-rate signal: its largest STFT magnitude, taken segment by segment
    (with context, so every frame is seen whole) to keep memory bounded."""
    largest = 0.0
    for first in range(0, max(1, len(low)), segment):
        piece = low[max(0, first - margin): first + segment + margin]
        piece = np.pad(piece, (0, max(0, front_end.n_fft - len(piece))))
        with timed("analysis STFT"):
            largest = max(largest, float(np.abs(front_end.analyse(piece)).max()))
    return largest
