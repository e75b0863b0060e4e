"""Evaluation as Park's code does it: separate every clip of a split and score it (see `metrics`).

For each clip: mixture = mean of the two channels; separate on Park's path (8 kHz, back to 16 kHz; the
paper's protocol) or the full-band path; score the estimates at 16 kHz; GNSDR / GSIR / GSAR over the split.
Also scores separations stored as files (the report's) against the clips they came from.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .data import DataError, index_clips, load_sources, load_stereo
from .metrics import EVALUATORS, score_estimates, summarise
from .networks import file_sha1
from .paths import atomic_path

BANDS = {"park": "Park's protocol: 8 kHz mono path, masks × mixture magnitude, scored at 16 kHz",
         "full": "full-band path: soft masks on the 16 kHz STFT (the 4-8 kHz band included), scored at 16 kHz"}


def separate_and_score(separator, sources, evaluator: str = "fast_bss_eval", band: str = "park",
                       cache: bool = False, scoring_device: str | None = None, **full_band_options) -> dict:
    """Separate one clip's mono mixture on one path and score it against its references (see `score_estimates`).

    cache: reuse the mixture's SDR from earlier runs; full_band_options go to `Separator.separate_full_band`
    (high_band, wiener_iterations, voice_gain).
    """
    if band == "park":
        stems = separator.separate(sources.mixture, sources.sample_rate)
    elif band == "full":
        stems = separator.separate_full_band(sources.mixture, sources.sample_rate, **full_band_options)
    else:
        raise ValueError(f"band must be one of {tuple(BANDS)}, not {band!r}")
    return score_estimates(np.stack([sources.accompaniment, sources.voice]), np.stack(stems), sources.mixture,
                           evaluator, cache=cache, device=scoring_device)


# One separator per worker process: loaded once in the parent, inherited by forked workers (loaded again only
# where processes are spawned, e.g. macOS).
_worker_separator = None
_worker_load_args = None


def _init_worker(threads):
    global _worker_separator
    import torch

    torch.set_num_threads(threads)
    if _worker_separator is None:
        from .separate import Separator

        checkpoint, options = _worker_load_args
        _worker_separator = Separator.from_checkpoint(checkpoint, device="cpu", **options)


def _score_clip(args) -> dict:
    clip, evaluator, band, cache, options, scoring_device = args
    row = {"clip": clip.id, "singer": clip.singer}
    row.update(separate_and_score(_worker_separator, load_sources(clip), evaluator, band, cache, scoring_device,
                                  **options))
    return row


def map_in_workers(function, jobs: list, workers: int, initializer, progress: bool = False,
                   description: str = "") -> list:
    """function over jobs in `workers` forked processes (in this one for a single worker), results in order.
    initializer(threads) runs once per process first, threads being the cores each process may use."""
    import multiprocessing

    from .progress import progress_over

    if workers == 1:
        initializer(os.cpu_count() or 1)
        return [function(job) for job in progress_over(jobs, description=description, unit="clips", enabled=progress)]
    start_method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(start_method), initializer=initializer,
                             initargs=(max(1, (os.cpu_count() or 1) // workers),)) as pool:
        return list(progress_over(pool.map(function, jobs), total=len(jobs), description=description, unit="clips",
                                  enabled=progress))


@dataclass
class Evaluation:
    per_clip: pd.DataFrame
    evaluator: str
    checkpoint: str
    split: str
    band: str = "park"
    windowing: str = "park"
    precision: str = "fp32"
    post_filter: str = "none"
    shifts: int = 1
    full_band_options: dict = field(default_factory=dict)  # high_band, wiener_iterations, voice_gain as given

    @property
    def num_clips(self) -> int:
        return len(self.per_clip)

    def summary(self) -> dict:
        return summarise(self.per_clip) | {"evaluator": self.evaluator, "checkpoint": self.checkpoint, "split": self.split,
                                           "band": self.band, "windowing": self.windowing, "precision": self.precision,
                                           "post_filter": self.post_filter, "shifts": self.shifts,
                                           **self.full_band_options}

    def save(self, out_dir: str | os.PathLike) -> None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.per_clip.to_csv(out_dir / "per_clip.csv", index=False, float_format="%.4f")
        (out_dir / "summary.json").write_text(json.dumps(self.summary(), indent=2) + "\n")


def evaluate(checkpoint: str | os.PathLike | list | None = None, split: str = "test", data_root=None,
             evaluator: str = "fast_bss_eval", workers: int | None = None, max_clips: int | None = None,
             clip_ids: list[str] | None = None, batch_size: int | None = None, progress: bool = True,
             band: str = "park", cache: bool = True, windowing: str = "park", precision: str = "fp32",
             post_filter: str = "none", shifts: int = 1, device: str | None = None, int8_runtime: str = "auto",
             **full_band_options) -> Evaluation:
    """Separate and score every clip of a split (or the given clip ids) in parallel worker processes.

    checkpoint: one (default: the shipped cpu model), or several whose estimates are averaged (`Separator`).
    band: "park" (the paper's protocol, the default) or "full" (see BANDS); cache: reuse each clip's mixture SDR
    from earlier runs (it does not depend on the model); windowing and precision: the network's (`Separator`;
    the paper's protocol: "park", "fp32"); post_filter: Park's path's (`separate.POST_FILTERS`; the paper's:
    "none"); shifts: test-time averaging over shifted windows (`Separator`; the paper's: 1); int8_runtime: what
    runs an int8 network (`networks.int8_runtime`; the figures agree to 0.01 dB); full_band_options
    go to `Separator.separate_full_band`. device "cuda": separate and score (fast_bss_eval's torch backend) on
    the GPU in this process instead of CPU worker processes; the figures are the same.
    """
    from .paths import SHIPPED_MODEL
    from .separate import Separator, checkpoint_paths

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
    checkpoints = checkpoint_paths(checkpoint or SHIPPED_MODEL)  # several: their estimates averaged
    global _worker_separator, _worker_load_args
    # loaded here, once: a bad checkpoint fails now with a clear message, and forked workers inherit the model
    if band != "park" and post_filter != "none":
        raise ValueError("a post-filter applies to Park's path; the full-band path already uses soft masks")
    _worker_load_args = (checkpoints, {"batch_size": batch_size, "windowing": windowing, "precision": precision,
                                      "post_filter": post_filter, "shifts": shifts, "int8_runtime": int8_runtime})
    on_gpu = device is not None and str(device).startswith("cuda")  # one process: CUDA does not survive a fork
    _worker_separator = Separator.from_checkpoint(checkpoints, device=device if on_gpu else "cpu",
                                                  **_worker_load_args[1])
    workers = 1 if on_gpu else workers or min(len(clips), os.cpu_count() or 1)
    jobs = [(clip, evaluator, band, cache, full_band_options, device if on_gpu else None) for clip in clips]
    rows = map_in_workers(_score_clip, jobs, workers, _init_worker, progress, "evaluate")
    return Evaluation(pd.DataFrame(rows), evaluator, _worker_separator.checkpoint_label, "clips" if clip_ids else split,
                      band, windowing, _worker_separator.precision, post_filter, shifts, dict(full_band_options))


REQUEST_NAME = "request.json"  # beside stored scores: the weights (by content) and options they were scored with


def stored_or_evaluated(checkpoint: str | os.PathLike, out_dir: str | os.PathLike, **options) -> pd.DataFrame:
    """The per-clip scores stored in out_dir when they were scored from these very weights with these options;
    otherwise evaluate(checkpoint, **options), saved there first. A notebook's store, which new weights under the
    same path (a retrained run, a new shipped model) invalidate instead of being shown stale scores."""
    out_dir = Path(out_dir)
    request = {"weights_sha1": file_sha1(checkpoint)} | {
        name: value for name, value in sorted(options.items()) if name not in ("data_root", "progress", "workers")}
    stored = out_dir / REQUEST_NAME
    if (out_dir / "per_clip.csv").is_file() and stored.is_file() and json.loads(stored.read_text()) == request:
        return pd.read_csv(out_dir / "per_clip.csv")
    result = evaluate(checkpoint, **options)
    stored.unlink(missing_ok=True)  # scores without their request are never reused, even if a write is cut short
    result.save(out_dir)
    with atomic_path(stored) as temporary:
        temporary.write_text(json.dumps(request, indent=2) + "\n")
    return result.per_clip


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
