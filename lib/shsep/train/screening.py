"""Screening initial weights (``--init-trials N``): train N initial weights on the same windows for a short
while, each a resumable run of its own under ``trials/``, and continue the one with the lowest training loss."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import torch.distributed as dist

from ..paths import atomic_path
from ..profiles import TrainConfig, initial_weights_seed
from .run_files import LOG_NAME, read_training_log

TRIALS_DIR = "trials"  # with init_trials > 1: one run folder per initial weights tried
TRIALS_NAME = "trials.csv"  # their losses, and which one the run continued


def trial_loss(log, trial_steps: int) -> float:
    """A trial's score: the mean training loss of a run's log over the second half of its first trial_steps steps
    (lower is better)."""
    window = (log["step"] > trial_steps // 2) & (log["step"] <= trial_steps)
    return float(log.loc[window, "loss"].mean())


def trial_dir(out_dir: str | os.PathLike, seed: int) -> Path:
    """The run folder of a screened run's trial with the initial weights of `seed`."""
    return Path(out_dir) / TRIALS_DIR / f"init{seed}"


def screen_initial_weights(config: TrainConfig, out_dir: Path, data_root, device, precision: str,
                           progress: bool, rank: int, world: int, stop_after: int | None = None) -> int | None:
    """Train config.init_trials initial weights (seeds init_seed, init_seed + 1, ...) for config.trial_steps
    steps each, each a resumable run under out_dir/trials/init<seed>; write trials.csv; return the seed whose
    training loss over the second half of the trial is lowest. Every trial sees the same windows.
    stop_after < trial_steps stops every trial there and chooses nothing (None)."""
    import pandas as pd

    from .loop import train

    first = initial_weights_seed(config)
    seeds = [first + k for k in range(config.init_trials)]
    for seed in seeds:
        trial = replace(config, init_seed=seed, init_trials=1, trial_steps=0, precision=precision, time_budget=0.0)
        train(trial, trial_dir(out_dir, seed), data_root, resume=True, device=str(device),
              progress=progress, stop_after=min(config.trial_steps, stop_after or config.trial_steps), validate=False)
    if stop_after is not None and stop_after < config.trial_steps:
        return None
    chosen = [None]
    if rank != 0:  # the main process reads the trials' logs and chooses
        dist.broadcast_object_list(chosen, src=0)
        return chosen[0]
    logs = {seed: read_training_log(trial_dir(out_dir, seed)) for seed in seeds}
    table = pd.DataFrame({"init_seed": seeds,
                          "loss": [trial_loss(logs[s], config.trial_steps) for s in seeds],
                          "seconds": [float(logs[s]["seconds"].iloc[-1]) for s in seeds]})
    table["chosen"] = table["loss"] == table["loss"].min()
    chosen[0] = int(table.loc[table["chosen"], "init_seed"].iloc[0])
    with atomic_path(out_dir / TRIALS_NAME) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g")
    if world > 1:
        dist.broadcast_object_list(chosen, src=0)
    return chosen[0]


def adopt_trial_log(out_dir: Path, chosen_dir: Path) -> None:
    """The run's log starts as the chosen trial's, its seconds counting the other trials' training time too."""
    trials = read_trials(out_dir)
    others = float(trials.loc[~trials["chosen"], "seconds"].sum())
    log = read_training_log(chosen_dir)
    log["seconds"] = (log["seconds"] + others).round(3)
    with atomic_path(out_dir / LOG_NAME) as temporary:
        log.to_csv(temporary, index=False)


def read_trials(out_dir: str | os.PathLike):
    """A screened run's trials.csv as a DataFrame (init_seed, loss, seconds, chosen), or None without screening."""
    import pandas as pd

    path = Path(out_dir) / TRIALS_NAME
    return pd.read_csv(path) if path.is_file() else None


def read_trial_logs(out_dir: str | os.PathLike) -> dict:
    """The training logs of a screened run's trials, by initial weights' seed (empty without screening)."""
    trials = read_trials(out_dir)
    seeds = [] if trials is None else trials["init_seed"]
    return {int(seed): read_training_log(trial_dir(out_dir, seed)) for seed in seeds}
