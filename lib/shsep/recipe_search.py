"""The CPU recipe search read from the experiment log: every whole-recipe run with what it changed and added,
GNSDR against training time and compute, and the findings as markdown generated from the log (notebook 07,
docs/recipe_search.md). The studies beside it (the GPU sweep, the screening runs, the seed study) are
`search_studies`."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from .arms import RECIPE_BUDGET
from .models import ModelConfig
from .profiles import LOGGED_LEVERS, LOGGED_TRAINING_CHOICES, TrainConfig, shifts_text

# What makes two recipe runs the same recipe (a refit differs only in the clips it trains on)
RECIPE_COLUMNS = ("architecture", "channels", "growth", "stacks", "depth", "head", "input_power",
                  "dense_frequency_bins", "dense_full_resolution", "target", "sampler", "seed", "init_seed", "init_trials", "steps",
                  "batch_size", "learning_rate", "schedule", "ema_decay", *LOGGED_LEVERS, "voice_shifts",
                  "front_end_rate", *LOGGED_TRAINING_CHOICES)
# the value a row logged before a column existed had: the levers off, the default shifts, Park's 8 kHz front end,
# whole windows throughout, Park's loss alone, every stack weighed alike, the magnitudes read as they are,
# convolutions only
LATER_COLUMN_DEFAULTS = ({name: getattr(TrainConfig(), name)
                          for name in (*LOGGED_LEVERS, *LOGGED_TRAINING_CHOICES)}
                         | {"voice_shifts": shifts_text(TrainConfig().voice_shifts), "front_end_rate": 8000,
                            "input_power": ModelConfig().input_power,
                            "dense_frequency_bins": ModelConfig().dense_frequency_bins,
                            "dense_full_resolution": ModelConfig().dense_full_resolution})


def _with_later_columns(runs: pd.DataFrame) -> pd.DataFrame:
    """runs with every column added to the log since its first rows, blanks (and missing columns) filled with the
    value those rows had (`LATER_COLUMN_DEFAULTS`)."""
    return runs.assign(**{c: runs[c].fillna(default) if c in runs else default
                          for c, default in LATER_COLUMN_DEFAULTS.items()})


def _refitted_runs(runs: pd.DataFrame) -> list:
    """For each run (oldest first): the index of the earlier run whose recipe it refits, else None. A refit holds
    no validation songs out (it trains on every training clip and keeps its last step) and otherwise repeats a
    run that did, so that run's validation figure is what chose it."""
    runs = _with_later_columns(runs)
    if not set(RECIPE_COLUMNS) <= set(runs.columns):
        return [None] * len(runs)
    recipe = runs[list(RECIPE_COLUMNS)].astype(str)
    validated = runs["validation_voice_gnsdr"].astype(float).notna()
    refits = []
    for i in range(len(runs)):
        same = [j for j in range(i) if validated[j] and (recipe.iloc[j] == recipe.iloc[i]).all()]
        refits.append(same[-1] if not validated[i] and same else None)
    return refits


def recipe_runs(log: pd.DataFrame) -> pd.DataFrame:
    """The log's whole-recipe runs (budget "recipe"), oldest first: what each changed, its size, steps, training
    hours and machine, its validation figure (what the choice rests on) and its one test figure, and what it
    added (on validation and on test) over its `reference`: the incumbent, that is the best earlier run by
    validation, or the run just before it while no earlier run held validation songs out. A refit (`refit_of`:
    the same recipe trained on every training clip, see `_refitted_runs`) is measured against the run it refits."""
    runs = log[log["budget"] == RECIPE_BUDGET].sort_values("date").reset_index(drop=True)
    table = runs[["arm", "change", "parameters", "steps", "precision", "device", "clips_scored"]].copy()
    table["train_clips"] = runs["train_clips"] if "train_clips" in runs else np.nan
    table["hours"] = runs["train_seconds"] / 3600
    validation_mean = (runs["validation_voice_gnsdr"].astype(float) + runs["validation_accompaniment_gnsdr"].astype(float)) / 2
    refits = _refitted_runs(runs)
    references = [None] + [refits[i] if refits[i] is not None
                           else int(validation_mean[:i].idxmax()) if validation_mean[:i].notna().any() else i - 1
                           for i in range(1, len(runs))]
    table["reference"] = [None if r is None else runs.loc[r, "arm"] for r in references]
    table["refit_of"] = [None if r is None else runs.loc[r, "arm"] for r in refits]
    for split, prefix in (("validation", "validation_"), ("test", "")):
        for source in ("voice", "accompaniment"):
            figure = runs[f"{prefix}{source}_gnsdr"].astype(float)
            table[f"{split}_{source}_gnsdr"] = figure
            table[f"{split}_{source}_gain"] = [np.nan if r is None else figure[i] - figure[r]
                                               for i, r in enumerate(references)]
    return table


def training_time_points(log: pd.DataFrame, report_log: pd.DataFrame | None = None) -> pd.DataFrame:
    """GNSDR against training time for every candidate: our recipe runs and ablation arms (2 CPU cores, the test
    clips present here) and the report's runs that give a training time (GPU, 100 or 825 clips).

    Columns: group, label, hours, voice_gnsdr, accompaniment_gnsdr, clips, gflop (`training_gflop`).
    """
    ours = log.dropna(subset=["train_seconds", "voice_gnsdr"]).reset_index(drop=True)
    group = np.where(ours["budget"] == RECIPE_BUDGET, "shsep recipe runs (CPU)",
                     "shsep ablation arms, " + ours["budget"].astype(str) + " (CPU)")
    frames = [pd.DataFrame({"group": group, "label": ours["arm"], "hours": ours["train_seconds"] / 3600,
                            "voice_gnsdr": ours["voice_gnsdr"], "accompaniment_gnsdr": ours["accompaniment_gnsdr"],
                            "clips": ours["clips_scored"]})]
    if report_log is not None:
        theirs = report_log.dropna(subset=["train_seconds", "voice_gnsdr"]).reset_index(drop=True)
        frames.append(pd.DataFrame({
            "group": "report (" + theirs["gpu"].astype(str) + ")", "hours": theirs["train_seconds"] / 3600,
            "label": theirs["stacks"].astype(int).astype(str) + " stacks, " + theirs["channels"].astype(int).astype(str)
            + " +" + theirs["growth"].astype(int).astype(str) + ", " + theirs["iterations"].astype(int).astype(str) + " steps",
            "voice_gnsdr": theirs["voice_gnsdr"], "accompaniment_gnsdr": theirs["accompaniment_gnsdr"],
            "clips": theirs["test_clips"]}))
    points = pd.concat(frames, ignore_index=True)
    points["gflop"] = pd.concat([training_gflop(ours), training_gflop(theirs, report_runs=True)]
                                if report_log is not None else [training_gflop(ours)], ignore_index=True)
    return points.astype({"clips": "Int64"})


REPORT_BATCH_SIZE = 4  # the report's code (shared docs: report-architecture)
BACKWARD_FACTOR = 3    # a training step costs about three forward passes: the forward, and twice it backward


def training_gflop(runs: pd.DataFrame, report_runs: bool = False) -> pd.Series:
    """Training compute of each run in GFLOP: 3 × the network's forward FLOPs on one 512×64 window
    (`models.flops_per_patch`) × windows per step × steps (for our runs the logged steps, which leave out the
    initial-weight trials, a window of half the frames counting half, `short_patches`; for the report's, its
    iterations at batch 4). A machine-free axis: runs on different machines compare by compute where their hours
    do not."""
    def one(run) -> float:
        if report_runs:
            config = dict(architecture="report", channels=int(run["channels"]), growth=int(run["growth"]),
                          stacks=int(run["stacks"]), depth=4, outputs=int(run["outputs"]))
            windows = REPORT_BATCH_SIZE * run["iterations"]
        else:
            config = dict(architecture=run["architecture"], channels=int(run["channels"]), growth=int(run["growth"]),
                          stacks=int(run["stacks"]), depth=int(run["depth"]),
                          outputs=1 if run["target"] in ("voice", "accompaniment") else 2,
                          head=None if pd.isna(run["head"]) or run["head"] == "default" else run["head"],
                          dense_frequency_bins=int(run["dense_frequency_bins"]),
                          dense_full_resolution=bool(run["dense_full_resolution"]))
            windows = run["batch_size"] * run["steps"] * (1 - run["short_patches"] / 2)
        return BACKWARD_FACTOR * _forward_flops(tuple(sorted(config.items()))) * windows / 1e9

    needed = (("channels", "growth", "stacks", "outputs", "iterations") if report_runs else
              ("architecture", "channels", "growth", "stacks", "depth", "target", "head", "batch_size", "steps"))
    if not set(needed) <= set(runs.columns):  # a log without the network's shape: no compute figure
        return pd.Series([float("nan")] * len(runs), dtype=float)
    if not report_runs:  # blanks in rows from before an option: the option off
        runs = _with_later_columns(runs)
    return pd.Series([one(run) for _, run in runs.iterrows()], dtype=float)


@functools.lru_cache(maxsize=None)
def _forward_flops(config_items: tuple) -> int:
    from .models import ModelConfig, flops_per_patch

    return flops_per_patch(ModelConfig(**dict(config_items)))


# Park et al. 2018's published GNSDR (825 clips, quoted), and the goal and milestone set for a 2-hour CPU
# recipe on the test clips present here (the full split runs about 0.5 dB lower; see the README).
PARK_GNSDR = {"voice": 10.51, "accompaniment": 9.88}
CPU_GOAL = {"voice": 11.0, "accompaniment": 10.4}
CPU_MILESTONE = {"voice": 10.0, "accompaniment": 9.5}


def _verdicts(run) -> str:
    """Where one run's test figure stands against the 2-hour CPU recipe's milestone and goal."""
    verdicts = []
    for name, target in (("milestone", CPU_MILESTONE), ("goal", CPU_GOAL)):
        short = [f"{source} by {target[source] - run[f'test_{source}_gnsdr']:.2f} dB"
                 for source in ("voice", "accompaniment") if run[f"test_{source}_gnsdr"] < target[source]]
        verdicts.append(f"the {name} ({target['voice']:.1f} / {target['accompaniment']:.1f}) is "
                        + (f"missed: {', '.join(short)}" if short else "**reached**"))
    return "; ".join(verdicts)


def recipe_findings(runs: pd.DataFrame) -> str:
    """The measured part of "reaching the paper on a CPU", as markdown generated from `recipe_runs`: each run,
    what it changed and added (validation, then test), and where the best one stands against the goal."""
    if not len(runs):
        return "*No recipe run is logged yet: `shsep train --profile cpu --test` logs one.*"
    lines = ["**Measured** (generated from `results/experiments.csv`; voice / accompaniment GNSDR, Park's protocol; "
             "one seed per run):", ""]
    for i, run in runs.iterrows():
        if pd.notna(run["validation_voice_gnsdr"]):
            validation = f"validation {run['validation_voice_gnsdr']:.2f} / {run['validation_accompaniment_gnsdr']:.2f}"
        elif pd.notna(run["refit_of"]):
            clips = f"all {int(run['train_clips'])}" if pd.notna(run["train_clips"]) else "all the"
            validation = (f"no validation songs held out: `{run['refit_of']}`'s recipe refitted on {clips} training "
                          "clips, its last step kept")
        else:
            validation = "no validation songs held out"
        validation_gain = "" if pd.isna(run["validation_voice_gain"]) else \
            f"validation {run['validation_voice_gain']:+.2f} / {run['validation_accompaniment_gain']:+.2f}, "
        gain = "" if i == 0 else (f"; against `{run['reference']}`: {validation_gain}test "
                                  f"{run['test_voice_gain']:+.2f} / {run['test_accompaniment_gain']:+.2f} dB")
        lines.append(f"* `{run['arm']}` ({run['change']}; {int(run['parameters']):,} parameters, {int(run['steps'])} "
                     f"steps, {run['hours']:.2f} h, {run['precision']}): {validation}, **test {run['test_voice_gnsdr']:.2f}"
                     f" / {run['test_accompaniment_gnsdr']:.2f} dB** ({int(run['clips_scored'])} clips){gain}")
    best = runs.loc[runs["validation_voice_gnsdr"].fillna(-np.inf).add(
        runs["validation_accompaniment_gnsdr"].fillna(-np.inf)).idxmax()]
    paragraph = f"The best run by validation, `{best['arm']}`: {_verdicts(best)}."
    for _, run in runs[runs["refit_of"].notna()].iterrows():
        paragraph += f" `{run['arm']}`, the refit of `{run['refit_of']}` on every training clip: {_verdicts(run)}."
    lines += ["", paragraph + " One run per row: a gain of a few tenths of a dB is a lead, not a result (reseeding "
              "moved the 1000-step arms by about 1 dB; two trainings of Park's recipe at 5000 steps differ by about "
              "0.3 dB, see the README)."]
    validation_gain = (runs["validation_voice_gain"] + runs["validation_accompaniment_gain"]) / 2
    test_gain = (runs["test_voice_gain"] + runs["test_accompaniment_gain"]) / 2
    opposite = runs[validation_gain * test_gain < 0]
    if len(opposite):
        cases = ", ".join(f"`{run['arm']}` against `{run['reference']}` (validation {validation_gain[i]:+.2f}, test "
                          f"{test_gain[i]:+.2f} dB, mean of the two sources)" for i, run in opposite.iterrows())
        lines += ["", f"Validation and test point in opposite directions for {cases}: the validation songs are a "
                  "weak guide to the test split, and the choice still rests on them alone."]
    return "\n".join(lines)
