"""The experiment log: one row per finished run in results/experiments.csv (and .xlsx, like the report's
result.xlsx), read and written here. What the rows say is read in `ablation_findings` (the ablation questions)
and `recipe_search` (the CPU recipe's runs, the GPU sweeps and the seed study).
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .arms import DEFAULT_BUDGET
from .paths import OUTPUTS, RESULTS, atomic_path


def results_dir(budget: str) -> Path:
    """Where a budget's logs go: results/ (committed), except the CI budget's: outputs/smoke/results/."""
    return OUTPUTS / "smoke" / "results" if budget == "ci-20" else RESULTS


RESULTS_LOG = results_dir(DEFAULT_BUDGET) / "experiments.csv"
METRICS = [f"{s}_{m}" for s in ("voice", "accompaniment") for m in ("gnsdr", "gsir", "gsar")]


def read_experiment_log(path: str | os.PathLike = RESULTS_LOG, budget: str | None = None) -> pd.DataFrame:
    """The experiment log (empty if there is none yet), optionally only one budget's rows."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=["budget", "arm"])
    log = pd.read_csv(path)
    return log[log["budget"] == budget].reset_index(drop=True) if budget else log


def append_row(row: dict, path: str | os.PathLike = RESULTS_LOG) -> pd.DataFrame:
    """Add one run to the log, replacing an earlier row of the same budget and arm; writes .csv and .xlsx atomically."""
    path = Path(path)
    log = read_experiment_log(path)
    log = log[~((log["budget"] == row["budget"]) & (log["arm"] == row["arm"]))]
    log = pd.concat([log, pd.DataFrame([row])], ignore_index=True) if len(log) else pd.DataFrame([row])
    # counts stay counts beside gaps
    for column in ("clips_scored", "validation_clips", "best_step", "train_clips", "init_seed", "init_trials"):
        if column in log and pd.api.types.is_numeric_dtype(log[column]):
            log[column] = log[column].astype("Int64")
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix, write in ((".csv", lambda p: log.to_csv(p, index=False, float_format="%.6g")),
                          (".xlsx", lambda p: log.to_excel(p, index=False, sheet_name="experiments"))):
        with atomic_path(path.with_suffix(suffix)) as temporary:
            write(temporary)
    return log
