"""The ablation questions read from the experiment log: our arms beside the report's runs, the seed spread,
and each question's measured findings, generated from the log so that prose and log cannot disagree."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .arms import QUESTION_ARMS
from .experiment_log import METRICS

_SIDE_COLUMNS = ["parameters", "steps", "minutes", "clips"] + METRICS


def side_by_side(question: str, log: pd.DataFrame, report_folder=None) -> pd.DataFrame:
    """Our arms for a question beside the report's runs for it (its log's figures, as it wrote them)."""
    ours = log.set_index("arm").reindex(QUESTION_ARMS.get(question, [])).dropna(how="all").reset_index()
    ours = ours.assign(source="shsep", label=ours["arm"] + ": " + ours["change"], clips=ours["clips_scored"],
                       minutes=ours["train_seconds"] / 60)
    frames = [ours]
    from .report import REPORT_RUNS, report_runs

    if question in REPORT_RUNS:

        try:
            theirs = report_runs(question, report_folder)
        except Exception as error:  # the report's outputs are optional
            print(f"(the report's log is not available: {error})")
        else:
            frames.append(theirs.assign(source="report", steps=theirs["iterations"], clips=theirs["test_clips"],
                                        minutes=np.nan))
    table = pd.concat(frames, ignore_index=True)[["source", "label"] + _SIDE_COLUMNS]
    return table.astype({"parameters": "Int64", "steps": "Int64", "clips": "Int64"})


def run_to_run_spread(log: pd.DataFrame) -> pd.Series:
    """Per metric, max − min over the base arm's seeds (base, base-seed1, ...): what reseeding alone moves."""
    seeds = log[log["arm"].isin(QUESTION_ARMS["noise"])]
    if len(seeds) < 2:
        return pd.Series(np.nan, index=METRICS)
    return (seeds[METRICS].max() - seeds[METRICS].min()).astype(float)


def compare(log: pd.DataFrame, arm: str, reference: str = "base", metric: str = "voice_gnsdr") -> str:
    """One sentence: arm vs reference on a metric, against the run-to-run spread."""
    rows = log.set_index("arm")
    if arm not in rows.index or reference not in rows.index:
        return f"{arm} vs {reference}: not run yet"
    a, b = float(rows.loc[arm, metric]), float(rows.loc[reference, metric])
    spread = float(run_to_run_spread(log)[metric])
    if np.isnan(spread):
        verdict = "(no seed spread measured)"
    elif abs(a - b) <= spread:
        verdict = f"within the {spread:.2f} dB that reseeding alone moves it"
    else:
        verdict = f"{abs(a - b) / spread:.1f}× the {spread:.2f} dB that reseeding alone moves it"
    return f"{arm} {metric} {a:.2f} dB vs {reference} {b:.2f} dB: {a - b:+.2f} dB, {verdict}"


def findings(question: str, log: pd.DataFrame) -> str:
    """The measured part of a question's conclusion, as markdown generated from the log (so that prose and log
    cannot disagree): each arm's figures and its gap to the base, the seed spread, and whether any gap exceeds it."""
    rows = log.set_index("arm")
    arms = [arm for arm in QUESTION_ARMS.get(question, []) if arm in rows.index]
    if not arms:
        return f"*{question}: no arm of this question has been run yet.*"
    spread = run_to_run_spread(log)
    first = rows.loc[arms[0]]
    lines = [f"**Measured** (budget `{first['budget']}`: {int(first['steps'])} steps, {int(first['clips_scored'])} "
             f"test clips, one seed per arm; generated from `results/experiments.csv`). Voice / accompaniment GNSDR "
             f"(GSAR in brackets), and the gap to `base`:", ""]
    for arm in arms:
        row = rows.loc[arm]
        gap = "" if arm == "base" or "base" not in rows.index else \
            f"; vs base {row['voice_gnsdr'] - rows.loc['base', 'voice_gnsdr']:+.2f} / " \
            f"{row['accompaniment_gnsdr'] - rows.loc['base', 'accompaniment_gnsdr']:+.2f} dB"
        lines.append(f"* `{arm}` ({row['change']}): **{row['voice_gnsdr']:.2f} / {row['accompaniment_gnsdr']:.2f} dB** "
                     f"({row['voice_gsar']:.2f} / {row['accompaniment_gsar']:.2f}), {int(row['parameters']):,} "
                     f"parameters, {row['train_seconds'] / 60:.1f} min{gap}")
    lines.append("")
    if np.isnan(spread["voice_gnsdr"]):
        lines.append("No seed spread measured yet: no gap can be called real.")
        return "\n".join(lines)
    noise = f"reseeding `base` moves voice by {spread['voice_gnsdr']:.2f} dB and accompaniment by " \
            f"{spread['accompaniment_gnsdr']:.2f} dB"
    if question == "noise":
        lines.append(f"Spread over the seeds: {noise}. A single-run gap smaller than this is not evidence.")
        return "\n".join(lines)
    verdicts = []
    for metric, name in (("voice_gnsdr", "voice"), ("accompaniment_gnsdr", "accompaniment")):
        values = rows.loc[arms, metric].astype(float)
        gap = float(values.max() - values.min())
        beyond = gap > spread[metric]
        verdicts.append(f"{name}: best `{values.idxmax()}`, largest gap {gap:.2f} dB, "
                        + ("**beyond** the seed spread" if beyond else "**within** the seed spread"))
    lines.append(f"Verdict ({noise}): " + "; ".join(verdicts) + ".")
    return "\n".join(lines)


def question_findings(questions: dict[str, pd.DataFrame]) -> str:
    """The measured part of the evaluator questions' conclusion (from run_evaluator_questions' tables)."""
    evaluators = questions["evaluators"].set_index("method")
    v3 = evaluators.iloc[:3][METRICS]
    v3_gap = float((v3.max() - v3.min()).max())
    v4 = evaluators.iloc[3:][METRICS]
    lines = [f"**Measured** ({int(evaluators['clips_scored'].iloc[0])} clips, generated from the tables above):", "",
             f"* mir_eval, museval `bss_eval_sources` and fast_bss_eval (v3 sources) differ by at most "
             f"{v3_gap:.3f} dB on the same estimates."]
    if len(v4):
        lines.append(f"* museval's default `bss_eval` (v4 images, framewise, median) reads voice GNSDR "
                     f"{float(v4['voice_gnsdr'].iloc[0] - v3['voice_gnsdr'].mean()):+.2f} dB against v3.")
    inference = questions["inference"]
    for arm, table in inference.groupby("arm", sort=False):
        table = table.set_index("method")[METRICS]
        modes = {mode: table[table.index.str.contains(mode)] for mode in ("eval mode", "train mode")}
        windows = max(float((m.max() - m.min())[["voice_gnsdr", "accompaniment_gnsdr"]].max()) for m in modes.values())
        lines.append(f"* `{arm}`: BatchNorm in eval mode {modes['eval mode']['voice_gnsdr'].mean():.2f} / "
                     f"{modes['eval mode']['accompaniment_gnsdr'].mean():.2f} dB, in train mode "
                     f"{modes['train mode']['voice_gnsdr'].mean():.2f} / {modes['train mode']['accompaniment_gnsdr'].mean():.2f}"
                     f" dB (voice / accompaniment GNSDR); 1 or 4 windows per pass differ by at most {windows:.2f} dB.")
    return "\n".join(lines)
