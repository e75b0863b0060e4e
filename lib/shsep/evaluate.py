"""Evaluation as Park's code does it: BSS-eval v3 "sources" on the 16 kHz clips, NSDR, length-weighted means.

For each clip: mixture = mean of the two channels; separate (at 8 kHz, back to 16 kHz); score the
estimates [accompaniment, voice] against the references with permutation search; NSDR = SDR of the
estimate − SDR of the mixture used as both estimates. GNSDR / GSIR / GSAR weight each clip by its
length in samples. Three interchangeable BSS-eval v3 implementations: museval (the report's),
mir_eval (Park's) and fast_bss_eval.
"""
from __future__ import annotations

import json
import os
import shutil
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .data import Clip, DataError, index_clips, load_sources, load_stereo

EVALUATORS = ("museval", "mir_eval", "fast_bss_eval")
SOURCES = ("accompaniment", "voice")


class EvaluatorUnavailable(ValueError):
    """An evaluator whose requirements (a program, a package) are missing."""


def bss_eval_sources(references: np.ndarray, estimates: np.ndarray, evaluator: str = "fast_bss_eval"):
    """BSS-eval v3 sources with permutation search: (sdr, sir, sar) arrays of shape (sources,), reference order."""
    references = np.asarray(references, dtype=np.float64)
    estimates = _audible(np.asarray(estimates, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):  # e.g. infinite SAR of the mixture used as estimate
        return _bss_eval_sources(references, estimates, evaluator)


def _bss_eval_sources(references, estimates, evaluator):
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

        sdr, sir, sar = fast_bss_eval.bss_eval_sources(references, estimates, filter_length=512, use_cg_iter=None,
                                                       zero_mean=False, clamp_db=None, compute_permutation=True)[:3]
    else:
        raise ValueError(f"evaluator must be one of {EVALUATORS}, not {evaluator!r}")
    return np.asarray(sdr, float), np.asarray(sir, float), np.asarray(sar, float)


SILENCE_FLOOR = 1e-6


def _audible(estimates: np.ndarray) -> np.ndarray:
    """Add faint, seeded noise (-120 dBFS) to all-silent estimates: BSS-eval is undefined for them (its
    solvers fail); with it, a silent estimate gets the very low SDR it deserves instead of a crash."""
    silent = np.max(np.abs(estimates), axis=-1) < SILENCE_FLOOR
    if silent.any():
        estimates = estimates.copy()
        noise = np.random.default_rng(0).standard_normal(estimates.shape[-1]) * SILENCE_FLOOR
        estimates[silent] = noise
    return estimates


def score_estimates(references: np.ndarray, estimates: np.ndarray, mixture: np.ndarray, evaluator: str = "fast_bss_eval",
                    metric=None) -> dict:
    """Per-source SDR/SIR/SAR/NSDR of estimates (2, n) against references (2, n) [accompaniment, voice].

    metric(references, estimates) -> (sdr, sir, sar) replaces the evaluator's BSS-eval v3 (e.g. another version).
    """
    metric = metric or (lambda r, e: bss_eval_sources(r, e, evaluator))
    n = min(references.shape[-1], estimates.shape[-1], len(mixture))
    references, estimates, mixture = references[:, :n], estimates[:, :n], mixture[:n]
    sdr, sir, sar = metric(references, estimates)
    mixture_sdr, _, _ = metric(references, np.stack([mixture, mixture]))
    row = {"samples": n}
    for i, source in enumerate(SOURCES):
        row.update({f"{source}_sdr": float(sdr[i]), f"{source}_sir": float(sir[i]), f"{source}_sar": float(sar[i]),
                    f"{source}_mixture_sdr": float(mixture_sdr[i]), f"{source}_nsdr": float(sdr[i] - mixture_sdr[i])})
    return row


BANDS = {"park": "Park's protocol: 8 kHz mono path, masks × mixture magnitude, scored at 16 kHz",
         "full": "full-band path: soft masks on the 16 kHz STFT (the 4-8 kHz band included), scored at 16 kHz"}


def separate_and_score(separator, sources, evaluator: str = "fast_bss_eval", band: str = "park",
                       **full_band_options) -> dict:
    """Separate one clip's mono mixture on one path and score it against its references (see `score_estimates`).

    full_band_options go to `Separator.separate_full_band` (high_band, wiener_iterations).
    """
    if band == "park":
        stems = separator.separate(sources.mixture, sources.sample_rate)
    elif band == "full":
        stems = separator.separate_full_band(sources.mixture, sources.sample_rate, **full_band_options)
    else:
        raise ValueError(f"band must be one of {tuple(BANDS)}, not {band!r}")
    return score_estimates(np.stack([sources.accompaniment, sources.voice]), np.stack(stems), sources.mixture,
                           evaluator)


_worker_separator = None


def _init_worker(checkpoint, batch_size, threads):
    global _worker_separator
    import torch

    torch.set_num_threads(threads)
    from .separate import Separator

    _worker_separator = Separator.from_checkpoint(checkpoint, device="cpu", batch_size=batch_size)


def _score_clip(args) -> dict:
    clip, evaluator, band, options = args
    row = {"clip": clip.id, "singer": clip.singer}
    row.update(separate_and_score(_worker_separator, load_sources(clip), evaluator, band, **options))
    return row


@dataclass
class Evaluation:
    per_clip: pd.DataFrame
    evaluator: str
    checkpoint: str
    split: str
    band: str = "park"

    @property
    def num_clips(self) -> int:
        return len(self.per_clip)

    def summary(self) -> dict:
        return summarise(self.per_clip) | {"evaluator": self.evaluator, "checkpoint": self.checkpoint, "split": self.split,
                                           "band": self.band}

    def save(self, out_dir: str | os.PathLike) -> None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.per_clip.to_csv(out_dir / "per_clip.csv", index=False, float_format="%.4f")
        (out_dir / "summary.json").write_text(json.dumps(self.summary(), indent=2) + "\n")


def summarise(per_clip: pd.DataFrame) -> dict:
    """GNSDR / GSIR / GSAR per source: means weighted by clip length; plus the number of clips scored."""
    weights = per_clip["samples"].to_numpy(float)
    result = {"clips_scored": int(len(per_clip))}
    for source in SOURCES:
        for name, column in (("gnsdr", "nsdr"), ("gsir", "sir"), ("gsar", "sar")):
            values = per_clip[f"{source}_{column}"].to_numpy(float)
            result[f"{source}_{name}"] = float(np.sum(values * weights) / np.sum(weights))
    return result


def evaluate(checkpoint: str | os.PathLike | None = None, split: str = "test", data_root=None,
             evaluator: str = "fast_bss_eval", workers: int | None = None, max_clips: int | None = None,
             clip_ids: list[str] | None = None, batch_size: int | None = None, progress: bool = True,
             band: str = "park", **full_band_options) -> Evaluation:
    """Separate and score every clip of a split (or the given clip ids) in parallel worker processes.

    band: "park" (the paper's protocol, the default) or "full" (see BANDS); full_band_options go to
    `Separator.separate_full_band`.
    """
    from tqdm.auto import tqdm

    from .checkpoints import load_model
    from .paths import SHIPPED_MODEL

    clips = index_clips(data_root, "all" if clip_ids else split)
    if clip_ids:
        known = {c.id: c for c in clips}
        missing = [c for c in clip_ids if c not in known]
        if missing:
            raise DataError(f"clips not found: {', '.join(missing)}")
        clips = [known[c] for c in clip_ids]
    clips = clips[:max_clips]
    if evaluator not in EVALUATORS:
        raise ValueError(f"evaluator must be one of {EVALUATORS}, not {evaluator!r}")
    if band not in BANDS:
        raise ValueError(f"band must be one of {tuple(BANDS)}, not {band!r}")
    checkpoint = str(checkpoint or SHIPPED_MODEL)
    load_model(checkpoint)  # fail here, with a clear message, rather than in every worker
    workers = workers or min(len(clips), os.cpu_count() or 1)
    threads = max(1, (os.cpu_count() or 1) // workers)
    jobs = [(clip, evaluator, band, full_band_options) for clip in clips]
    if workers == 1:
        _init_worker(checkpoint, batch_size, os.cpu_count() or 1)
        rows = [_score_clip(job) for job in tqdm(jobs, desc="evaluate", disable=not progress)]
    else:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(checkpoint, batch_size, threads)) as pool:
            rows = list(tqdm(pool.map(_score_clip, jobs), total=len(jobs), desc="evaluate", disable=not progress))
    return Evaluation(pd.DataFrame(rows), evaluator, checkpoint, "clips" if clip_ids else split, band)


def join_clips(clip_ids: list[str], data_root=None) -> np.ndarray:
    """Stereo (accompaniment, voice) of MIR-1K clips joined in the given order, (2, samples) at 16 kHz."""
    from .data import get_clip

    return np.concatenate([load_stereo(get_clip(c, data_root)) for c in clip_ids], axis=1)


def read_estimate(path) -> np.ndarray:
    """A separated source stored as a file: mono (channels averaged), refused unless at 16 kHz like the references."""
    from .data import read_audio

    audio, rate = read_audio(path)
    if rate != 16000:
        raise DataError(f"{path} is at {rate} Hz; the references are at 16000 Hz")
    return audio.mean(axis=1)


def score_joined(stereo: np.ndarray, voice: np.ndarray, accompaniment: np.ndarray,
                 evaluator: str = "fast_bss_eval") -> dict:
    """Score voice / accompaniment estimates against joined references, all cut to the shortest."""
    n = min(len(voice), len(accompaniment), stereo.shape[1])
    return score_estimates(stereo[:, :n], np.stack([accompaniment[:n], voice[:n]]), stereo[:, :n].mean(axis=0), evaluator)


def score_files(voice_file, accompaniment_file, clip_ids: list[str], data_root=None,
                evaluator: str = "fast_bss_eval") -> dict:
    """Score separations stored as files (e.g. the report's) against the MIR-1K clips they came from, joined in order."""
    return score_joined(join_clips(clip_ids, data_root), read_estimate(voice_file), read_estimate(accompaniment_file),
                        evaluator)


def score_channels(sources, stems, evaluator: str = "fast_bss_eval") -> dict:
    """Score multichannel stems channel by channel against multichannel Sources: the mean of the per-channel rows."""
    rows = [score_estimates(np.stack([sources.accompaniment[c], sources.voice[c]]),
                            np.stack([stems.accompaniment[c], stems.voice[c]]), sources.mixture[c], evaluator)
            for c in range(sources.mixture.shape[0])]
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}
