"""The 2019 report's material, read where it lies: its experiment log and its separations of `annar_4`.

Location: ``$SHSEP_REPORT_OUTPUTS``, else ``../shared/data/report_outputs`` beside the project.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .data import DataError, get_clip, load_stereo
from .evaluate import score_estimates

REPORT_OUTPUTS = Path(os.environ.get("SHSEP_REPORT_OUTPUTS",
                                     Path(__file__).resolve().parents[3] / "shared" / "data" / "report_outputs"))
ANNAR_4 = [f"annar_4_{i:02d}" for i in range(1, 10)]
_COLUMNS = ["change", "observation", "stacks", "channels", "growth", "outputs", "parameters", "iterations",
            "learning_rate", "gpu", "train_time", "test_clips", "test_time", "voice_gnsdr", "voice_gsir", "voice_gsar",
            "accompaniment_gnsdr", "accompaniment_gsir", "accompaniment_gsar"]


def _folder(folder=None) -> Path:
    folder = Path(folder or REPORT_OUTPUTS)
    if not folder.is_dir():
        raise DataError(f"the report's outputs are not at {folder}; set $SHSEP_REPORT_OUTPUTS to their folder")
    return folder


def read_result_log(folder=None) -> pd.DataFrame:
    """The report's experiment log (result.xlsx) with English column names; notes stay in Chinese."""
    raw = pd.read_excel(_folder(folder) / "result.xlsx", header=None, skiprows=2)
    raw.columns = _COLUMNS[: raw.shape[1]]
    return raw.dropna(how="all")


def report_best(folder=None) -> pd.Series:
    """The report's run with the highest vocal GNSDR."""
    log = read_result_log(folder)
    runs = log[log["gpu"].notna()]
    return runs.loc[runs["voice_gnsdr"].astype(float).idxmax()]


def annar_4_comparison(separator, data_root=None, folder=None, evaluator: str = "fast_bss_eval"):
    """Score our separation of annar_4 (clips 01-09 joined) beside the report's 'ours' and 'paper' files.

    Returns (a DataFrame of SDR/SIR/SAR/NSDR per system, {system: (voice, accompaniment)} waveforms).
    """
    import soundfile as sf

    folder = _folder(folder)
    stereo = np.concatenate([load_stereo(get_clip(c, data_root)) for c in ANNAR_4], axis=1)
    mixture = stereo.mean(axis=0)
    accompaniment, voice = separator.separate(mixture, 16000)
    stems = {"shsep": (voice, accompaniment)}
    for name in ("ours", "paper"):
        voice_file = folder / f"annar_4_voice_predict_{name}.flac"
        accompaniment_file = folder / f"annar_4_accompaniments_predict_{name}.flac"
        stems[f"report {name}"] = tuple(sf.read(str(f), dtype="float32")[0] for f in (voice_file, accompaniment_file))
    rows = {}
    for name, (v, a) in stems.items():
        n = min(len(v), len(a), stereo.shape[1])
        rows[name] = score_estimates(stereo[:, :n], np.stack([a[:n], v[:n]]), mixture[:n], evaluator)
    return pd.DataFrame(rows).T, stems
