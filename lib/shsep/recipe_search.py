"""The CPU recipe search read from the experiment log: every whole-recipe run with what it changed and added,
GNSDR against training time, the GPU sweeps of candidates, and the seed study; the findings as markdown generated
from the log (notebook 07, docs/recipe_search.md)."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from .arms import RECIPE_BUDGET, SCREENING_BUDGET, SWEEP_BUDGET
from .profiles import LOGGED_LEVERS, TrainConfig, shifts_text

# What makes two recipe runs the same recipe (a refit differs only in the clips it trains on)
RECIPE_COLUMNS = ("architecture", "channels", "growth", "stacks", "depth", "head", "target", "sampler", "seed",
                  "init_seed", "init_trials", "steps", "batch_size", "learning_rate", "schedule", "ema_decay",
                  *LOGGED_LEVERS, "voice_shifts", "front_end_rate", "short_patches")
# the value a row logged before a column existed had: the levers off, the default shifts, Park's 8 kHz front end,
# whole windows throughout
LATER_COLUMN_DEFAULTS = ({lever: getattr(TrainConfig(), lever) for lever in LOGGED_LEVERS}
                         | {"voice_shifts": shifts_text(TrainConfig().voice_shifts), "front_end_rate": 8000,
                            "short_patches": 0.0})


def _refitted_runs(runs: pd.DataFrame) -> list:
    """For each run (oldest first): the index of the earlier run whose recipe it refits, else None. A refit holds
    no validation songs out (it trains on every training clip and keeps its last step) and otherwise repeats a
    run that did, so that run's validation figure is what chose it."""
    runs = runs.assign(**{c: runs[c].fillna(default) if c in runs else default
                          for c, default in LATER_COLUMN_DEFAULTS.items()})
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
                          head=None if pd.isna(run["head"]) or run["head"] == "default" else run["head"])
            short = run.get("short_patches", 0.0)
            windows = run["batch_size"] * run["steps"] * (1 - (0.0 if pd.isna(short) else short) / 2)
        return BACKWARD_FACTOR * _forward_flops(tuple(sorted(config.items()))) * windows / 1e9

    needed = (("channels", "growth", "stacks", "outputs", "iterations") if report_runs else
              ("architecture", "channels", "growth", "stacks", "depth", "target", "head", "batch_size", "steps"))
    if not set(needed) <= set(runs.columns):  # a log without the network's shape: no compute figure
        return pd.Series([float("nan")] * len(runs), dtype=float)
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


def sweep_runs(log: pd.DataFrame) -> pd.DataFrame:
    """The GPU sweep's candidates (budget "gpu-sweep", `scripts/gpu_sweep.py`): `cpu`-profile variants, each at the
    steps that fit the same 2 CPU hours, trained side by side on a lent GPU and scored on the validation songs
    only (best checkpoint); `base` marks the sweep's base runs ("gpu-base-s*"), and each run's difference from
    their mean is given."""
    runs = log[(log["budget"] == SWEEP_BUDGET) & ~_is_seed_study(log)].sort_values("arm").reset_index(drop=True)
    table = runs[["arm", "change", "parameters", "steps", "seed", "device"]].copy()
    table["base"] = table["arm"].str.startswith("gpu-base")
    for source in ("voice", "accompaniment"):
        table[f"validation_{source}_gnsdr"] = runs[f"validation_{source}_gnsdr"].astype(float)
        base = table.loc[table["base"], f"validation_{source}_gnsdr"].mean()
        table[f"{source}_against_base"] = table[f"validation_{source}_gnsdr"] - base
    return table


def sweep_findings(sweep: pd.DataFrame) -> str:
    """The GPU sweep's reading as markdown, generated from `sweep_runs`."""
    if not len(sweep):
        return "*No GPU sweep is logged: `scripts/gpu_sweep.py` runs one where a GPU is lent.*"
    is_base = sweep["base"].astype(bool)
    base = sweep[is_base]
    lines = [f"**GPU sweep** (generated from `results/experiments.csv`; validation songs only, {len(sweep)} runs on "
             f"{', '.join(sweep['device'].dropna().unique())}): the base (`cpu` profile, "
             f"{', '.join(f'seed {int(s)}' for s in base['seed'])}) reaches "
             f"{base['validation_voice_gnsdr'].mean():.2f} / {base['validation_accompaniment_gnsdr'].mean():.2f} dB.", ""]
    for _, run in sweep[~is_base].iterrows():
        lines.append(f"* `{run['arm']}` ({run['change']}): {run['validation_voice_gnsdr']:.2f} / "
                     f"{run['validation_accompaniment_gnsdr']:.2f}, **{run['voice_against_base']:+.2f} / "
                     f"{run['accompaniment_against_base']:+.2f} dB** against the base")
    spread = lever_seed_spread(sweep)
    for _, lever in spread.iterrows():
        lines += ["", f"`gpu-{lever['lever']}` over {lever['runs']} seeds ({lever['seeds']}): mean "
                  f"**{lever['voice_mean']:.2f} / {lever['accompaniment_mean']:.2f} dB**, "
                  f"{lever['voice_against_base']:+.2f} / {lever['accompaniment_against_base']:+.2f} against the base; "
                  f"voice {lever['voice_min']:.2f} to {lever['voice_max']:.2f}, accompaniment "
                  f"{lever['accompaniment_min']:.2f} to {lever['accompaniment_max']:.2f} from seed to seed."]
    lines += ["", "One run per candidate unless said, and the base's seed is not every candidate's: a difference of a "
              "few tenths of a dB is within the seed spread; the training times are the GPU's, with the runs sharing "
              "it."]
    return "\n".join(lines)


def screening_runs(log: pd.DataFrame) -> pd.DataFrame:
    """Short validated runs that compare one lever each (budget "screening", `shsep train --log`): their validation
    figure (best checkpoint), and its difference from the mean of the base runs (arms with "-base" in the name)
    that held out the same songs or singers for the same steps; the base runs' range is their seed spread."""
    runs = log[log["budget"] == SCREENING_BUDGET].reset_index(drop=True)
    table = runs[["arm", "change", "steps", "seed", "validation_clips"]].copy()
    table["held_out"] = runs["change"].str.extract(r"hold-out ([^,]+)")[0].fillna("")
    table["base"] = table["arm"].str.contains("-base")
    for source in ("voice", "accompaniment"):
        table[f"validation_{source}_gnsdr"] = runs[f"validation_{source}_gnsdr"].astype(float)
        base = table[table["base"]].groupby(["held_out", "steps"])[f"validation_{source}_gnsdr"]
        keys = pd.MultiIndex.from_frame(table[["held_out", "steps"]])
        table[f"{source}_against_base"] = table[f"validation_{source}_gnsdr"] - base.mean().reindex(keys).to_numpy()
        table[f"base_{source}_range"] = (base.max() - base.min()).reindex(keys).to_numpy()
    return table


def screening_findings(screening: pd.DataFrame) -> str:
    """The screening runs' reading as markdown, generated from `screening_runs`."""
    if not len(screening):
        return "*No screening run is logged: `shsep train --hold-out SINGER --steps N --log` logs one.*"
    lines = []
    for (held_out, steps), runs in screening.groupby(["held_out", "steps"], sort=False):
        base = runs[runs["base"].astype(bool)]
        lines += [f"**{held_out or 'nothing'} held out, {int(steps)} steps** ({int(runs['validation_clips'].iloc[0])} "
                  f"validation clips): the base runs ({len(base)}: "
                  f"{', '.join(f'seed {int(s)}' for s in base['seed'])}) reach "
                  f"{base['validation_voice_gnsdr'].mean():.2f} / {base['validation_accompaniment_gnsdr'].mean():.2f} dB"
                  + (f", {base['base_voice_range'].iloc[0]:.2f} / {base['base_accompaniment_range'].iloc[0]:.2f} dB "
                     "apart from seed to seed." if len(base) > 1 else " (one seed: no spread measured)."), ""]
        for _, run in runs[~runs["base"].astype(bool)].iterrows():
            lever = ", ".join(part for part in run["change"].split(", ")
                              if not part.startswith(("profile ", "steps ", "hold-out ")))
            lines.append(f"* `{run['arm']}` ({lever}): {run['validation_voice_gnsdr']:.2f} / "
                         f"{run['validation_accompaniment_gnsdr']:.2f}, **{run['voice_against_base']:+.2f} / "
                         f"{run['accompaniment_against_base']:+.2f} dB** against the base")
        lines.append("")
    return "\n".join(lines).rstrip()


def lever_seed_spread(sweep: pd.DataFrame) -> pd.DataFrame:
    """The sweep's levers trained over several seeds (arms "gpu-<lever>-s<k>", base excluded): per lever the
    number of runs, their seeds, and the mean, lowest and highest validation GNSDR of each source, with the
    mean's difference from the base."""
    candidates = sweep[~sweep["base"].astype(bool)]
    parts = candidates["arm"].str.extract(r"^gpu-(?P<lever>.+)-s(?P<seed>\d+)$")
    rows = []
    for lever, runs in candidates.groupby(parts["lever"]):
        if len(runs) < 2:
            continue
        row = {"lever": lever, "runs": len(runs),
               "seeds": ", ".join(sorted(parts.loc[runs.index, "seed"], key=int))}
        for source in ("voice", "accompaniment"):
            values = runs[f"validation_{source}_gnsdr"]
            row |= {f"{source}_mean": values.mean(), f"{source}_min": values.min(), f"{source}_max": values.max(),
                    f"{source}_against_base": runs[f"{source}_against_base"].mean()}
        rows.append(row)
    return pd.DataFrame(rows)


def _is_seed_study(log: pd.DataFrame) -> pd.Series:
    return (log["budget"] == SWEEP_BUDGET) & log["arm"].str.match(r"gpu-(init|data)\d")


def seed_runs(log: pd.DataFrame) -> pd.DataFrame:
    """The GPU sweep's seed study (arms "gpu-init<k>", "gpu-data<k>"): the `cpu` recipe with the seed of the
    initial weights and the seed of the training windows varied apart, each run's best validation figure and its
    training loss over steps 501-1000 (what the `cpu` profile's screening of initial weights compares)."""
    runs = log[_is_seed_study(log)].sort_values("arm").reset_index(drop=True)
    table = runs[["arm", "init_seed", "seed", "steps", "loss_501_1000"]].rename(columns={"seed": "data_seed"})
    table = table.astype({"init_seed": "Int64", "data_seed": "Int64", "steps": "Int64"})
    for source in ("voice", "accompaniment"):
        table[f"validation_{source}_gnsdr"] = runs[f"validation_{source}_gnsdr"].astype(float)
    table["validation_mean_gnsdr"] = (table["validation_voice_gnsdr"] + table["validation_accompaniment_gnsdr"]) / 2
    return table


def seed_findings(seeds: pd.DataFrame, log: pd.DataFrame | None = None) -> str:
    """What the seed study says, generated from `seed_runs`: how far the initial weights alone move validation,
    whether the early training loss ranks them as validation does, and what choosing by it would have gained;
    with the whole log, also which initial weights each screened recipe run (column init_trial_losses) chose."""
    same_windows = seeds[seeds["data_seed"] == 0].sort_values("init_seed")
    if len(same_windows) < 2:
        return "*No seed study is logged: `scripts/gpu_sweep.py run --only init0 init1 init2 init3 data1` runs one.*"
    mean = same_windows["validation_mean_gnsdr"]
    by_loss = same_windows.sort_values("loss_501_1000")["init_seed"].astype(int).tolist()
    by_validation = same_windows.sort_values("validation_mean_gnsdr", ascending=False)["init_seed"].astype(int).tolist()
    rank_correlation = same_windows["loss_501_1000"].rank().corr(-mean.rank(), method="pearson")
    chosen = same_windows.loc[same_windows["loss_501_1000"].idxmin()]
    lines = [f"**Seed study** (generated from `results/experiments.csv`; validation songs only). {len(same_windows)} "
             f"initial weights on the same training windows (data seed 0), {int(same_windows['steps'].iloc[0])} steps "
             f"each: validation mean GNSDR {mean.min():.2f} to {mean.max():.2f} dB, a spread of "
             f"**{mean.max() - mean.min():.2f} dB** from the initial weights alone.", "",
             f"* Ranked by training loss over steps 501-1000 (lowest first): init {', '.join(map(str, by_loss))}; "
             f"by validation (best first): init {', '.join(map(str, by_validation))}; rank correlation "
             f"{rank_correlation:.2f}.",
             f"* Continuing the lowest loss (init {int(chosen['init_seed'])}) gives {chosen['validation_mean_gnsdr']:.2f} "
             f"dB, **{chosen['validation_mean_gnsdr'] - mean.mean():+.2f} dB** against the mean of the "
             f"{len(same_windows)} and {chosen['validation_mean_gnsdr'] - mean.max():+.2f} against the best."]
    for _, run in seeds[(seeds["data_seed"] != 0) & (seeds["init_seed"] == 0)].iterrows():
        base = same_windows.loc[same_windows["init_seed"] == 0, "validation_mean_gnsdr"]
        if len(base):
            lines.append(f"* The windows alone (init 0, data seed {int(run['data_seed'])}) move it by "
                         f"{run['validation_mean_gnsdr'] - base.iloc[0]:+.2f} dB: the screening does not reach that part.")
    screened = log[(log["budget"] == RECIPE_BUDGET) & log["init_trial_losses"].notna()] \
        if log is not None and "init_trial_losses" in log else pd.DataFrame()
    for _, run in screened.iterrows():
        trials = dict(item.split(":") for item in run["init_trial_losses"].split())
        lines.append(f"* `{run['arm']}` screened {len(trials)} initial weights on {run['device']} "
                     f"(loss over steps 501-1000: {', '.join(f'init {k} {float(v):.5f}' for k, v in trials.items())}) "
                     f"and continued init {int(run['init_seed'])}.")
    lines += ["", f"{len(same_windows)} runs are few: the ranking is a lead that the `cpu` profile's screening rests on, "
              "not a law."]
    return "\n".join(lines)
