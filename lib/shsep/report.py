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


# The report's runs that bear on each ablation question: {question: {label: row of result.xlsx}}.
# All 1000-iteration rows used learning rate 0.1 and 100 test clips; rows 12-18 are 15000+ steps on 825.
REPORT_RUNS = {
    "stacks": {"1 stack (64 +64)": 3, "2 stacks (64 +64)": 2, "3 stacks (64 +64)": 4, "4 stacks (64 +64)": 5},
    "channels": {"4 stacks, 64 constant (2.96 M)": 7, "4 stacks, 64 +64 (34.7 M)": 5,
                 "15k steps, 64 +64 (34.7 M, 825 clips)": 14, "15k steps, Park-like 256 constant (42.8 M, 825 clips)": 15},
    "targets": {"both masks, 1 stack": 3, "voice mask only, 1 stack": 10, "accompaniment mask only, 1 stack": 9},
    "direct": {"direct prediction, 1 stack": 11},
    "samplers": {"clip-then-start, 15k steps, lr 0.01 (825 clips)": 12, "uniform, 15k steps, lr 0.001 (its note says 0.01; 825 clips)": 17},
    "evaluators": {"mir_eval, 1 window per pass": 0, "museval, 4 windows per pass": 1},
}


def report_runs(question: str, folder=None) -> pd.DataFrame:
    """The report's log rows for one ablation question, labelled."""
    log = read_result_log(folder)
    rows = [log.loc[index].to_dict() | {"label": label} for label, index in REPORT_RUNS[question].items()]
    return pd.DataFrame(rows)
