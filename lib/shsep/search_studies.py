"""The studies beside the CPU recipe search, read from the experiment log: the GPU sweep of candidates, the short
screening runs of one lever each, and the seed study; each as a table and as findings in markdown generated from
the log (notebook 07, docs/recipe_search.md). Whole-recipe runs are `recipe_search`."""
from __future__ import annotations

import pandas as pd

from .arms import RECIPE_BUDGET, SCREENING_BUDGET, SWEEP_BUDGET


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
