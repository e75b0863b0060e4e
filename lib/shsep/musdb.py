"""Real songs scored the MUSDB way: `shsep evaluate-musdb PATH` on MUSDB18, MUSDB18-HQ or any folder of songs with
a vocal stem.

A track is a folder holding ``mixture.wav`` and ``vocals.wav`` (and usually ``drums``, ``bass``, ``other``:
MUSDB18-HQ's layout), or one ``.stem.mp4`` / ``.stem.m4a`` file (MUSDB18's: streams mixture, drums, bass, other,
vocals, decoded by ffmpeg). The accompaniment reference is the sum of the stems other than the vocals where they
are given, else mixture − vocals. Each track is separated as `shsep separate` does it (full band, the input's rate
and channels) and scored with museval's BSS-eval v4 on 1-second frames (the SiSEC 2018 convention): per track the
median over frames of SDR / ISR / SIR / SAR, over tracks the median of those. SDR is the benchmark figure: v4 fits
its distortion filters over the whole track, so a frame's ISR / SIR / SAR can read far below its SDR
(docs/real_songs.md).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import AudioError
from .data import read_audio

STEM_SUFFIXES = (".stem.mp4", ".stem.m4a")
STEM_STREAMS = ("mixture", "drums", "bass", "other", "vocals")  # the order of a MUSDB18 .stem.mp4's audio streams
OTHER_STEMS = ("drums", "bass", "other")
METRICS = ("sdr", "isr", "sir", "sar")
TARGETS = ("vocals", "accompaniment")


@dataclass
class Track:
    name: str
    path: Path  # a folder of WAV stems, or a .stem.mp4 / .stem.m4a file


@dataclass
class TrackAudio:
    rate: int
    mixture: np.ndarray        # (channels, samples)
    vocals: np.ndarray
    accompaniment: np.ndarray


def find_tracks(root: str | os.PathLike, subset: str | None = None) -> list[Track]:
    """Every track under root (searched recursively), sorted by name; subset ("train", "test") keeps the tracks
    under a folder of that name, as MUSDB18 splits them."""
    root = Path(root)
    if not root.exists():
        raise AudioError(f"{root} does not exist")
    if root.is_file():
        candidates = [root]
    else:
        candidates = sorted({p.parent for p in root.rglob("mixture.wav")} |
                            {p for p in root.rglob("*") if p.name.lower().endswith(STEM_SUFFIXES)})
    tracks = [Track(_track_name(p), p) for p in candidates
              if (p.is_file() or (p / "vocals.wav").is_file()) and (subset is None or subset in p.parts)]
    if not tracks:
        raise AudioError(f"no tracks in {root}: a track is a folder with mixture.wav and vocals.wav, or a "
                         f"{' / '.join(STEM_SUFFIXES)} file" + (f", under a '{subset}' folder" if subset else ""))
    return sorted(tracks, key=lambda t: t.name)


def _track_name(path: Path) -> str:
    name = path.name
    for suffix in STEM_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_track(track: Track) -> TrackAudio:
    """The mixture and the two references of a track, float32 (channels, samples) at its own rate."""
    if track.path.is_dir():
        stems = {}
        for name in ("mixture", "vocals") + OTHER_STEMS:
            path = track.path / f"{name}.wav"
            if path.is_file():
                audio, rate = read_audio(path)
                stems[name] = np.ascontiguousarray(audio.T)
    else:
        stems, rate = _decode_stems(track.path)
    length = min(s.shape[1] for s in stems.values())
    stems = {k: v[:, :length] for k, v in stems.items()}
    others = [stems[k] for k in OTHER_STEMS if k in stems]
    accompaniment = np.sum(others, axis=0) if len(others) == len(OTHER_STEMS) else stems["mixture"] - stems["vocals"]
    return TrackAudio(rate, stems["mixture"], stems["vocals"], accompaniment.astype(np.float32))


def _decode_stems(path: Path) -> tuple[dict, int]:
    """A .stem.mp4 / .m4a file's five streams, decoded by ffmpeg to float32 at the file's rate."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise AudioError(f"{path}: reading stem files needs ffmpeg and ffprobe (apt-get install ffmpeg)")
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries",
                            "stream=sample_rate,channels", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    streams = [line.split(",") for line in probe.stdout.split()]
    if probe.returncode != 0 or len(streams) < len(STEM_STREAMS):
        raise AudioError(f"{path}: not a stem file with {len(STEM_STREAMS)} audio streams "
                         f"({' '.join(STEM_STREAMS)}); ffprobe found {len(streams)}")
    rate, channels = int(streams[0][0]), int(streams[0][1])
    stems = {}
    for index, name in enumerate(STEM_STREAMS):
        decoded = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", f"0:a:{index}",
                                  "-f", "f32le", "-ac", str(channels), "-ar", str(rate), "-"], capture_output=True)
        if decoded.returncode != 0:
            raise AudioError(f"{path}: ffmpeg could not decode stream {index} ({name})")
        stems[name] = np.frombuffer(decoded.stdout, np.float32).reshape(-1, channels).T.copy()
    return stems, rate


def score_track(audio: TrackAudio, vocals: np.ndarray, accompaniment: np.ndarray, window_seconds: float = 1.0) -> dict:
    """museval's BSS-eval v4 on frames of window_seconds: per target, the median over frames of each metric
    (frames where a reference is silent give no value and are left out, as museval does)."""
    import museval.metrics

    from .metrics import audible

    window = int(window_seconds * audio.rate)
    references = np.stack([audio.vocals.T, audio.accompaniment.T]).astype(np.float64)
    # a silent estimate makes BSS-eval's system singular: faint noise gives it the very low SDR it deserves
    estimates = audible(np.stack([vocals, accompaniment]).astype(np.float64)).transpose(0, 2, 1)
    sdr, isr, sir, sar = museval.metrics.bss_eval(references, estimates, window=window, hop=window)[:4]
    row = {"seconds": audio.mixture.shape[1] / audio.rate, "frames": sdr.shape[1]}
    for t, target in enumerate(TARGETS):
        for name, values in zip(METRICS, (sdr, isr, sir, sar)):
            finite = values[t][np.isfinite(values[t])]
            row[f"{target}_{name}"] = float(np.median(finite)) if len(finite) else float("nan")
    return row


def evaluate_tracks(separator, tracks: list[Track], progress: bool = True, **full_band_options) -> pd.DataFrame:
    """Separate each track as `shsep separate` does (full band, its own rate and channels, the voice gain for
    produced songs unless full_band_options give another) and score it."""
    from .masking import SONGS_VOICE_GAIN
    from .progress import progress_over

    full_band_options = {"voice_gain": SONGS_VOICE_GAIN} | full_band_options
    rows = []
    for track in progress_over(tracks, description="evaluate-musdb", unit="tracks", enabled=progress):
        audio = read_track(track)
        stems = separator.separate_full_band(audio.mixture, audio.rate, **full_band_options)
        rows.append({"track": track.name} | score_track(audio, stems.voice, stems.accompaniment))
    return pd.DataFrame(rows)


def summarise_tracks(per_track: pd.DataFrame) -> dict:
    """The SiSEC convention: per metric, the median over tracks of the per-track medians; and the spread."""
    summary = {"tracks": int(len(per_track))}
    for target in TARGETS:
        for name in METRICS:
            values = per_track[f"{target}_{name}"]
            summary[f"{target}_{name}"] = float(values.median())
        summary[f"{target}_sdr_min"] = float(per_track[f"{target}_sdr"].min())
        summary[f"{target}_sdr_max"] = float(per_track[f"{target}_sdr"].max())
    return summary


def format_track_summary(summary: dict) -> str:
    lines = [f"{summary['tracks']} tracks scored (museval BSS-eval v4, 1 s frames; median over frames, then over "
             "tracks)", f"{'':15}" + "".join(f"{m.upper():>8}" for m in METRICS) + f"{'SDR range':>16}"]
    for target in TARGETS:
        lines.append(f"{target:15}" + "".join(f"{summary[f'{target}_{m}']:8.2f}" for m in METRICS)
                     + f"{summary[f'{target}_sdr_min']:8.2f} to {summary[f'{target}_sdr_max']:.2f}")
    return "\n".join(lines)
