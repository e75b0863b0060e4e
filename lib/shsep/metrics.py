"""Scoring separations: BSS-eval v3 sources (three interchangeable backends), NSDR and the G-figures.

`score_estimates` scores one clip's two estimates [accompaniment, voice] with permutation search and NSDR
(SDR of the estimate minus SDR of the mixture used as both estimates); `summarise` gives GNSDR / GSIR / GSAR,
means weighted by clip length; `format_summary` prints them. Backends: museval (the report's), mir_eval
(Park's) and fast_bss_eval (the fastest; agrees with the others to 0.01 dB).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import warnings

import numpy as np
import pandas as pd

EVALUATORS = ("museval", "mir_eval", "fast_bss_eval")
SOURCES = ("accompaniment", "voice")


class EvaluatorUnavailable(ValueError):
    """An evaluator whose requirements (a program, a package) are missing."""


def bss_eval_sources(references: np.ndarray, estimates: np.ndarray, evaluator: str = "fast_bss_eval",
                     device: str | None = None):
    """BSS-eval v3 sources with permutation search: (sdr, sir, sar) arrays of shape (sources,), reference order.
    device "cuda...": fast_bss_eval's torch backend on that GPU (the same figures; other evaluators ignore it)."""
    references = np.asarray(references, dtype=np.float64)
    estimates = audible(np.asarray(estimates, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):  # e.g. infinite SAR of the mixture used as estimate
        return _bss_eval_sources(references, estimates, evaluator, device)


def _bss_eval_sources(references, estimates, evaluator, device=None):
    if evaluator == "mir_eval":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            import mir_eval.separation

            sdr, sir, sar, _ = mir_eval.separation.bss_eval_sources(references, estimates, compute_permutation=True)
    elif evaluator == "museval":
        if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
            raise EvaluatorUnavailable("museval needs the ffmpeg and ffprobe programs (its stempeg dependency refuses to "
                               "import without them): install ffmpeg, e.g. `apt-get install ffmpeg` or `conda install ffmpeg`")
        import museval.metrics

        sdr, sir, sar, _ = museval.metrics.bss_eval_sources(references, estimates, compute_permutation=True)
        sdr, sir, sar = (m[:, 0] for m in (sdr, sir, sar))
    elif evaluator == "fast_bss_eval":
        import fast_bss_eval

        if device is not None and str(device).startswith("cuda"):
            import torch

            references, estimates = (torch.as_tensor(x, device=device) for x in (references, estimates))
        # on the CPU its numpy backend: the torch one gives the same figures (1e-13 dB apart) and is faster on one thread, but
        # torch 2.13's CPU linalg.solve fails on more than one ("Pivots given to lu_solve must all be >= 1")
        sdr, sir, sar = fast_bss_eval.bss_eval_sources(references, estimates, filter_length=512, use_cg_iter=None,
                                                       zero_mean=False, clamp_db=None, compute_permutation=True)[:3]
        sdr, sir, sar = (x.cpu().numpy() if hasattr(x, "cpu") else x for x in (sdr, sir, sar))
    else:
        raise ValueError(f"evaluator must be one of {EVALUATORS}, not {evaluator!r}")
    return np.asarray(sdr, float), np.asarray(sir, float), np.asarray(sar, float)


SILENCE_FLOOR = 1e-6


def audible(estimates: np.ndarray) -> np.ndarray:
    """Add faint, seeded noise (-120 dBFS) to all-silent estimates: BSS-eval is undefined for them (its
    solvers fail); with it, a silent estimate gets the very low SDR it deserves instead of a crash."""
    silent = np.max(np.abs(estimates), axis=-1) < SILENCE_FLOOR
    if silent.any():
        estimates = estimates.copy()
        noise = np.random.default_rng(0).standard_normal(estimates.shape[-1]) * SILENCE_FLOOR
        estimates[silent] = noise
    return estimates


def score_estimates(references: np.ndarray, estimates: np.ndarray, mixture: np.ndarray, evaluator: str = "fast_bss_eval",
                    metric=None, cache: bool = False, device: str | None = None) -> dict:
    """Per-source SDR/SIR/SAR/NSDR of estimates (2, n) against references (2, n) [accompaniment, voice].

    metric(references, estimates) -> (sdr, sir, sar) replaces the evaluator's BSS-eval v3 (e.g. another version).
    cache: reuse the mixture's SDR, which depends only on the clip, from earlier runs (`mixture_sdr`).
    device: where fast_bss_eval computes (`bss_eval_sources`).
    """
    n = min(references.shape[-1], estimates.shape[-1], len(mixture))
    references, estimates, mixture = references[:, :n], estimates[:, :n], mixture[:n]
    if metric is None:
        sdr, sir, sar = bss_eval_sources(references, estimates, evaluator, device)
        mixture_sdrs = mixture_sdr(references, mixture, evaluator, cache, device)
    else:
        sdr, sir, sar = metric(references, estimates)
        mixture_sdrs = metric(references, np.stack([mixture, mixture]))[0]
    row = {"samples": n}
    for i, source in enumerate(SOURCES):
        row.update({f"{source}_sdr": float(sdr[i]), f"{source}_sir": float(sir[i]), f"{source}_sar": float(sar[i]),
                    f"{source}_mixture_sdr": float(mixture_sdrs[i]), f"{source}_nsdr": float(sdr[i] - mixture_sdrs[i])})
    return row


def mixture_sdr(references: np.ndarray, mixture: np.ndarray, evaluator: str = "fast_bss_eval",
                cache: bool = False, device: str | None = None) -> np.ndarray:
    """SDR of the mixture used as both estimates, per source: the baseline NSDR subtracts.

    With cache=True it is kept in data/cache/mixture_sdr/ (or $SHSEP_CACHE), keyed by a hash of the references' and
    the mixture's samples and the evaluator, since it does not depend on the model.
    """
    if not cache:
        return bss_eval_sources(references, np.stack([mixture, mixture]), evaluator, device)[0]
    from .dataset import cache_dir
    from .paths import atomic_path

    digest = hashlib.sha1(np.ascontiguousarray(references, np.float32).tobytes())
    digest.update(np.ascontiguousarray(mixture, np.float32).tobytes())
    path = cache_dir() / "mixture_sdr" / evaluator / f"{digest.hexdigest()[:20]}.json"
    if path.is_file():
        return np.asarray(json.loads(path.read_text()), float)
    sdr = mixture_sdr(references, mixture, evaluator, device=device)
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps([float(x) for x in sdr]))
    return sdr


def summarise(per_clip: pd.DataFrame) -> dict:
    """GNSDR / GSIR / GSAR per source: means weighted by clip length; plus the number of clips scored."""
    weights = per_clip["samples"].to_numpy(float)
    result = {"clips_scored": int(len(per_clip))}
    for source in SOURCES:
        for name, column in (("gnsdr", "nsdr"), ("gsir", "sir"), ("gsar", "sar")):
            values = per_clip[f"{source}_{column}"].to_numpy(float)
            result[f"{source}_{name}"] = float(np.sum(values * weights) / np.sum(weights))
    return result




def score_channels(sources, stems, evaluator: str = "fast_bss_eval") -> dict:
    """Score multichannel stems channel by channel against multichannel Sources: the mean of the per-channel rows."""
    rows = [score_estimates(np.stack([sources.accompaniment[c], sources.voice[c]]),
                            np.stack([stems.accompaniment[c], stems.voice[c]]), sources.mixture[c], evaluator)
            for c in range(sources.mixture.shape[0])]
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def format_summary(summary: dict) -> str:
    """G-figures as a small table, headed by how many clips were scored, on which split, evaluator and path."""
    windowing, precision = summary.get("windowing", "park"), summary.get("precision", "fp32")
    network = "" if (windowing, precision) == ("park", "fp32") else f", {windowing} windows, {precision}"
    if summary.get("post_filter", "none") != "none":
        network += f", {summary['post_filter']} post-filter"
    if summary.get("shifts", 1) != 1:
        network += f", {summary['shifts']} shifts averaged"
    lines = [f"{summary['clips_scored']} clips scored ({summary.get('split', '')} split, {summary.get('evaluator', '')}, "
             f"{summary.get('band', 'park')} band{network})",
             f"{'':14}{'GNSDR':>8}{'GSIR':>8}{'GSAR':>8}"]
    for source in ("voice", "accompaniment"):
        lines.append(f"{source:14}" + "".join(f"{summary[f'{source}_{m}']:8.2f}" for m in ("gnsdr", "gsir", "gsar")))
    return "\n".join(lines)
