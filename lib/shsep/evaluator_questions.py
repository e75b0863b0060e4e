"""The evaluator question: the same clips scored several ways (BSS-eval backends and versions; BatchNorm and
batching at inference), to tell what moved the report's 5.29 -> 8.10 dB jump. Saved as <question>_<budget>.csv.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .arms import DEFAULT_BUDGET, check_budget, evaluation_clips
from .data import index_clips
from .experiment_log import results_dir
from .experiments import RUNS_DIR
from .paths import atomic_path


def _museval_v4(references: np.ndarray, estimates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """museval.metrics.bss_eval with its defaults (v4 "images", 88200-sample windows, hop 66150), median over windows."""
    import museval.metrics

    from .metrics import audible

    estimates = audible(np.asarray(estimates, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        sdr, _, sir, sar, _ = museval.metrics.bss_eval(references[..., None], estimates[..., None])
    return tuple(np.nanmedian(np.where(np.isfinite(m), m, np.nan), axis=1) for m in (sdr, sir, sar))


def _score_with(method: str, references, estimates, mixture) -> dict:
    from .metrics import score_estimates

    if method == "museval v4 (bss_eval defaults)":
        return score_estimates(references, estimates, mixture, metric=_museval_v4)
    return score_estimates(references, estimates, mixture, method.split(" ")[0])


EVALUATOR_METHODS = ["mir_eval v3", "museval v3 (bss_eval_sources)", "fast_bss_eval v3", "museval v4 (bss_eval defaults)"]
INFERENCE_MODES = [("eval", 1), ("eval", 4), ("train", 1), ("train", 4)]


def _question_job(args) -> list[dict]:
    """One clip of the evaluator question: its estimates under each inference mode, scored by each method."""
    checkpoint, clip, question = args
    from .data import load_sources
    from .evaluate import separate_and_score
    from .separate import Separator

    torch.set_num_threads(1)
    sources = load_sources(clip)
    references = np.stack([sources.accompaniment, sources.voice])
    rows = []
    if question == "evaluators":
        estimates = np.stack(Separator.from_checkpoint(checkpoint, device="cpu").separate(sources.mixture, 16000))
        for method in EVALUATOR_METHODS:
            rows.append({"method": method, "clip": clip.id} | _score_with(method, references, estimates, sources.mixture))
    else:
        for mode, batch in INFERENCE_MODES:
            separator = Separator.from_checkpoint(checkpoint, device="cpu", batch_size=batch)
            separator.model.train(mode == "train")  # 'train': BatchNorm normalises with each batch's own statistics
            rows.append({"method": f"BatchNorm {mode} mode, {batch} window{'s' if batch > 1 else ''} per pass",
                         "clip": clip.id} | separate_and_score(separator, sources))
    return rows


def evaluator_question(checkpoint, clip_ids: list[str], question: str = "evaluators", data_root=None,
                       workers: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the same clips several ways; returns (per-clip rows, one summary row per method).

    question='evaluators': one set of estimates, scored by mir_eval, museval and fast_bss_eval (v3
      sources) and by museval's default v4 framewise images metric.
    question='inference': the estimates of each INFERENCE_MODES (BatchNorm in eval or train mode,
      1 or 4 windows per pass), all scored with fast_bss_eval.
    """
    from concurrent.futures import ProcessPoolExecutor

    from .metrics import summarise

    if question not in ("evaluators", "inference"):
        raise ValueError(f"question must be 'evaluators' or 'inference', not {question!r}")
    clips = {c.id: c for c in index_clips(data_root, "test")}
    jobs = [(str(checkpoint), clips[c], question) for c in clip_ids]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    with ProcessPoolExecutor(workers) as pool:
        per_clip = pd.DataFrame([row for rows in pool.map(_question_job, jobs) for row in rows])
    summary = pd.DataFrame([{"method": method} | summarise(group)
                            for method, group in per_clip.groupby("method", sort=False)])
    return per_clip, summary


QUESTION_CLIPS = {"ci-20": 2, "cpu-1000": 20, "gpu-15000": 100}


def run_evaluator_questions(budget: str = DEFAULT_BUDGET, folder=None, runs_dir=RUNS_DIR, data_root=None,
                            rerun: bool = False) -> dict[str, pd.DataFrame]:
    """Both evaluator questions on the budget's arms, saved as <question>_<budget>.csv beside the experiment log
    (reused unless rerun).

    'evaluators' scores the base arm; 'inference' the two arms with a BatchNorm head (masks and direct).
    Both use the first QUESTION_CLIPS[budget] of the budget's evaluation clips.
    """
    folder = Path(folder or results_dir(budget))
    clips = evaluation_clips(check_budget(budget), data_root)[: QUESTION_CLIPS[budget]]
    tables = {}
    for question, arms in (("evaluators", ["base"]), ("inference", ["masks-report-head", "direct-report-head"])):
        path = folder / f"{question}_{budget}.csv"
        if rerun or not path.is_file():
            summaries = []
            for arm in arms:
                checkpoint = Path(runs_dir) / budget / arm / "checkpoint.pt"
                if not checkpoint.is_file():
                    raise FileNotFoundError(f"{checkpoint} is missing: run the {arm!r} arm first (run_arms)")
                _, summary = evaluator_question(checkpoint, clips, question, data_root)
                summaries.append(summary.assign(budget=budget, arm=arm))
            table = pd.concat(summaries, ignore_index=True)
            table = table[["budget", "arm"] + [c for c in table.columns if c not in ("budget", "arm")]]
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as temporary:
                table.to_csv(temporary, index=False, float_format="%.4f")
        tables[question] = pd.read_csv(path)
    return tables
