"""MIR-1K: locate the dataset, index its clips, load them at 16 kHz or at Park's 8 kHz.

Layout (official): ``<root>/Wavfile/<singer>_<song>_<clip>.wav`` (stereo, 16 kHz,
left = accompaniment, right = singing voice), ``<root>/PitchLabel/*.pv`` and
``<root>/vocal-nonvocalLabel/*.vocal``. Lossless ``.flac`` copies are accepted too.
Park's split: clips of the singers ``abjones`` and ``amy`` (175) train, the rest (825) test.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .paths import DATA, SHARED

MIR1K_SAMPLE_RATE = 16000
TRAIN_SINGERS = ("abjones", "amy")
AUDIO_EXTENSIONS = (".wav", ".flac")
ENV_VAR = "MIR1K_ROOT"
OFFICIAL_URL = "http://mirlab.org/dataset/public/MIR-1K.zip"
OFFICIAL_CLIP_COUNT = 1000
HOW_TO_GET = (
    f"Set ${ENV_VAR} to your MIR-1K folder (the one holding Wavfile/), put it at data/MIR-1K, "
    "or download it with `shsep download-mir1k` (needs internet, about 1 GB)."
)
_CLIP_NAME = re.compile(r"^(?P<singer>[A-Za-z]+)_(?P<song>\d+)_(?P<clip>\d+)$")


class DataError(Exception):
    """A problem with the dataset or an audio file, with a message a user can act on."""


@dataclass(frozen=True)
class Clip:
    """One MIR-1K clip: where it lies and what it is."""

    id: str
    singer: str
    song: int
    clip: int
    path: Path
    num_samples: int
    sample_rate: int
    pitch_label: Path | None
    vocal_label: Path | None

    @property
    def split(self) -> str:
        return "train" if self.singer in TRAIN_SINGERS else "test"

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate


def candidate_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """Where MIR-1K is looked for, in order: argument, $MIR1K_ROOT, data/MIR-1K, ../shared/data/MIR-1K."""
    if root is not None:
        return [Path(root)]
    candidates = []
    if os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    candidates += [DATA / "MIR-1K", SHARED / "data" / "MIR-1K"]
    return candidates


def find_root(root: str | os.PathLike | None = None) -> Path:
    """Return the first candidate folder that holds ``Wavfile/``; raise DataError saying where it looked."""
    candidates = candidate_roots(root)
    for candidate in candidates:
        if (candidate / "Wavfile").is_dir():
            return candidate.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(f"MIR-1K not found: no Wavfile/ folder in {looked}. {HOW_TO_GET}")


def parse_clip_name(stem: str) -> tuple[str, int, int]:
    match = _CLIP_NAME.match(stem)
    if not match:
        raise DataError(f"'{stem}' is not a MIR-1K clip name (expected <singer>_<song>_<clip>, e.g. amy_4_01)")
    return match["singer"], int(match["song"]), int(match["clip"])


def index_clips(root: str | os.PathLike | None = None, split: str = "all") -> list[Clip]:
    """All clips of a split ('train', 'test' or 'all'), sorted by id. Reads only file headers."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")
    base = find_root(root)
    clips = []
    for path in sorted((base / "Wavfile").iterdir()):
        if path.suffix.lower() not in AUDIO_EXTENSIONS or path.name.startswith("."):
            continue
        singer, song, number = parse_clip_name(path.stem)
        info = _audio_info(path)
        pitch = base / "PitchLabel" / f"{path.stem}.pv"
        vocal = base / "vocal-nonvocalLabel" / f"{path.stem}.vocal"
        clip = Clip(path.stem, singer, song, number, path, info.frames, info.samplerate,
                    pitch if pitch.is_file() else None, vocal if vocal.is_file() else None)
        if split in ("all", clip.split):
            clips.append(clip)
    if not clips:
        raise DataError(f"no {split} clips (.wav or .flac) in {base / 'Wavfile'}. {HOW_TO_GET}")
    return clips


def split_validation(clips: list[Clip], songs) -> tuple[list[Clip], list[Clip]]:
    """(training clips, validation clips): whole songs ('singer_song', e.g. 'amy_14') or whole singers ('abjones')
    held out for validation.

    Whole songs, so that no validation clip shares a song with a training clip; a whole singer, so that the
    validation voice is new to the model, as every test voice is.
    """
    songs = set(songs)
    held_out = [c for c in clips if f"{c.singer}_{c.song}" in songs or c.singer in songs]
    missing = songs - {f"{c.singer}_{c.song}" for c in held_out} - {c.singer for c in held_out}
    if missing:
        raise DataError(f"validation songs or singers not among the clips: {', '.join(sorted(missing))}")
    return [c for c in clips if c not in held_out], held_out


def get_clip(clip_id: str, root: str | os.PathLike | None = None) -> Clip:
    """Look one clip up by id (e.g. 'annar_4_01')."""
    for clip in index_clips(root):
        if clip.id == clip_id:
            return clip
    raise DataError(f"clip '{clip_id}' is not in {find_root(root) / 'Wavfile'}")


def _audio_info(path: Path):
    try:
        return sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as error:
        raise DataError(f"cannot read audio file {path}: {error}") from None


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read any file libsndfile understands as float32 (samples, channels); clear DataError on failure."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"audio file not found: {path}")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as error:
        raise DataError(f"cannot read audio file {path} (unreadable or truncated): {error}") from None
    return audio, rate


def load_stereo(clip: Clip | str | os.PathLike) -> np.ndarray:
    """A MIR-1K clip as float32 (2, samples) at 16 kHz: row 0 accompaniment, row 1 voice."""
    return _read_stereo(clip)[0]


def _read_stereo(clip: Clip | str | os.PathLike, also_at: int | None = None) -> tuple[np.ndarray, int]:
    """(float32 (2, samples), rate) of a clip at 16 kHz, or at also_at (a clip packed by `write_resampled_clips`)."""
    path = clip.path if isinstance(clip, Clip) else Path(clip)
    audio, rate = read_audio(path)
    if audio.shape[1] != 2:
        raise DataError(f"{path} has {audio.shape[1]} channel(s); MIR-1K clips are stereo "
                        "(left = accompaniment, right = voice)")
    if rate not in (MIR1K_SAMPLE_RATE, also_at):
        raise DataError(f"{path} is at {rate} Hz; MIR-1K clips are at {MIR1K_SAMPLE_RATE} Hz")
    if audio.shape[0] == 0:
        raise DataError(f"{path} holds no samples")
    return np.ascontiguousarray(audio.T), rate


def write_resampled_clips(clips: list[Clip], folder: str | os.PathLike, sample_rate: int) -> None:
    """Write clips resampled to sample_rate (the same resampler as `load_sources`) as 16-bit stereo FLAC in
    folder: Park's 8 kHz training data in half the bytes, for a machine the clips must travel to."""
    import soundfile as sf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        sources = load_sources(clip, sample_rate)
        stereo = np.stack([sources.accompaniment, sources.voice], axis=1).clip(-1, 1)
        sf.write(folder / f"{clip.id}.flac", stereo, sample_rate, subtype="PCM_16")


@dataclass
class Sources:
    """Mixture, accompaniment and voice of one clip at one sample rate, float32 1-D each."""

    mixture: np.ndarray
    accompaniment: np.ndarray
    voice: np.ndarray
    sample_rate: int


def load_sources(clip: Clip | str | os.PathLike, sample_rate: int = MIR1K_SAMPLE_RATE) -> Sources:
    """Load a clip; mixture = mean of the two channels (Park's, librosa.to_mono).

    At another rate the two channels are resampled first (librosa's soxr_hq), as Park's code does; a clip already
    stored at that rate (`write_resampled_clips`) is read as it is.
    """
    from .spectrogram import resample

    stereo, rate = _read_stereo(clip, also_at=sample_rate)
    if rate != sample_rate:
        stereo = resample(stereo, MIR1K_SAMPLE_RATE, sample_rate)
    accompaniment, voice = stereo[0], stereo[1]
    return Sources(stereo.mean(axis=0), accompaniment, voice, sample_rate)


def read_frame_labels(path: Path) -> np.ndarray:
    """A .pv (semitones, 0 = unvoiced) or .vocal (1/0) file: one value per 20 ms frame."""
    return np.loadtxt(path, dtype=np.float32, ndmin=1)



def download_mir1k(destination: str | os.PathLike = DATA, url: str = OFFICIAL_URL) -> Path:
    """Download and unpack the official MIR-1K zip into ``destination/MIR-1K``; check it holds 1000 clips."""
    import shutil
    import urllib.request
    import zipfile

    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    archive = destination / "MIR-1K.zip"
    if not archive.exists():
        print(f"downloading {url} -> {archive}")
        partial = archive.with_suffix(".zip.part")
        with urllib.request.urlopen(url) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
        partial.rename(archive)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(destination)
    root = find_root(destination / "MIR-1K")
    count = len(index_clips(root))
    if count != OFFICIAL_CLIP_COUNT:
        raise DataError(f"expected {OFFICIAL_CLIP_COUNT} clips in {root}, found {count}: the download is incomplete")
    print(f"MIR-1K ready in {root}: {count} clips")
    return root


def clips_table(clips: list[Clip]):
    """One row per clip (id, singer, song, clip, split, seconds, labels present) as a pandas DataFrame."""
    import pandas as pd

    return pd.DataFrame([{"id": c.id, "singer": c.singer, "song": c.song, "clip": c.clip, "split": c.split,
                          "seconds": c.duration, "pitch_label": c.pitch_label is not None,
                          "vocal_label": c.vocal_label is not None} for c in clips])


def voice_to_accompaniment_db(clip: Clip) -> float:
    """Energy of the voice channel over the accompaniment channel, in dB."""
    stereo = load_stereo(clip).astype(np.float64)
    energy = np.sum(stereo ** 2, axis=1) + 1e-12
    return float(10 * np.log10(energy[1] / energy[0]))


# Default pans for stereo mixtures built from MIR-1K (left, right gains): voice left of centre, accompaniment right.
VOICE_PAN = (0.9, 0.45)
ACCOMPANIMENT_PAN = (0.5, 0.85)


def stereo_mixture(accompaniment: np.ndarray, voice: np.ndarray, sample_rate: int, voice_pan=VOICE_PAN,
                   accompaniment_pan=ACCOMPANIMENT_PAN) -> Sources:
    """A stereo mixture of two mono sources panned differently: Sources of (2, samples) arrays."""
    accompaniment = np.outer(np.asarray(accompaniment_pan, np.float32), accompaniment)
    voice = np.outer(np.asarray(voice_pan, np.float32), voice)
    return Sources(accompaniment + voice, accompaniment, voice, sample_rate)


def stereo_song(clip_ids: list[str], sample_rate: int = 44100, root=None, **pans) -> Sources:
    """MIR-1K clips joined in order, panned into a stereo mixture (`stereo_mixture`) at sample_rate."""
    from .spectrogram import resample

    joined = np.concatenate([load_stereo(get_clip(c, root)) for c in clip_ids], axis=1)
    joined = resample(joined, MIR1K_SAMPLE_RATE, sample_rate)
    return stereo_mixture(joined[0], joined[1], sample_rate, **pans)
