"""The 2019 report's material, read where it lies: its experiment log and its separations of `annar_4`.

Location: ``$SHSEP_REPORT_OUTPUTS``, else ``../shared/data/report_outputs`` beside the project.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .data import DataError
from .evaluate import join_clips, read_estimate, score_joined

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


def annar_4_comparison(separator, data_root=None, folder=None, evaluator: str = "fast_bss_eval"):
    """Score our separation of annar_4 (clips 01-09 joined) beside the report's 'ours' and 'paper' files.

    Returns (a DataFrame of SDR/SIR/SAR/NSDR per system, {system: (voice, accompaniment)} waveforms).
    """
    folder = _folder(folder)
    stereo = join_clips(ANNAR_4, data_root)
    accompaniment, voice = separator.separate(stereo.mean(axis=0), 16000)
    stems = {"shsep": (voice, accompaniment)}
    for name in ("ours", "paper"):
        stems[f"report {name}"] = (read_estimate(folder / f"annar_4_voice_predict_{name}.flac"),
                                   read_estimate(folder / f"annar_4_accompaniments_predict_{name}.flac"))
    rows = {name: score_joined(stereo, v, a, evaluator) for name, (v, a) in stems.items()}
    return pd.DataFrame(rows).T, stems
