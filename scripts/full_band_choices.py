"""Measure the full-band path's choices on training clips (never test clips), and write results/full_band_choices.csv.

* mono (MIR-1K's channel mean, 16 kHz): Park's path against the full-band path with each high-band rule, and
  with the Wiener post-filter;
* stereo (the same clips panned into a 16 kHz stereo mixture, `data.stereo_mixture`): one mask from the downmix
  against per-channel analysis, each with and without Wiener; scored channel by channel.
Figures are length-weighted means over the clips (GNSDR etc.), plus separation seconds per clip (2 workers).
Run: python scripts/full_band_choices.py [--every 3] [--checkpoint PATH]
"""
from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

MONO_ARMS = [("park", {}), ("full", {"high_band": "band-ratio"}), ("full", {"high_band": "average"}),
             ("full", {"high_band": "edge"}), ("full", {"high_band": "zero"}),
             ("full", {"high_band": "band-ratio", "wiener_iterations": 1})]
STEREO_ARMS = [{"channels": "downmix"}, {"channels": "per-channel"},
               {"channels": "downmix", "wiener_iterations": 1}, {"channels": "per-channel", "wiener_iterations": 1}]
_separator = None


def _init(checkpoint):
    global _separator
    import torch

    from shsep.separate import Separator

    torch.set_num_threads(1)
    _separator = Separator.from_checkpoint(checkpoint, device="cpu")
    import numpy as np

    warm_up = np.random.default_rng(0).standard_normal((2, 16000)).astype(np.float32) * 0.1
    _separator.separate(warm_up[0], 16000)  # first calls pay one-off costs (numba, soxr): keep them out of the timings
    _separator.separate_full_band(warm_up, 16000, wiener_iterations=1)


def _clip_rows(clip):
    from shsep.data import load_sources, stereo_mixture
    from shsep.metrics import score_channels, score_estimates
    import numpy as np

    sources = load_sources(clip)
    rows = []
    for band, options in MONO_ARMS:
        start = time.perf_counter()
        stems = (_separator.separate(sources.mixture, 16000) if band == "park"
                 else _separator.separate_full_band(sources.mixture, 16000, **options))
        seconds = time.perf_counter() - start
        row = score_estimates(np.stack([sources.accompaniment, sources.voice]), np.stack(stems), sources.mixture)
        rows.append({"input": "mono", "band": band, **options, "seconds": seconds, **row})
    stereo = stereo_mixture(sources.accompaniment, sources.voice, 16000)
    for options in STEREO_ARMS:
        start = time.perf_counter()
        stems = _separator.separate_full_band(stereo.mixture, 16000, high_band="band-ratio", **options)
        seconds = time.perf_counter() - start
        rows.append({"input": "stereo", "band": "full", "high_band": "band-ratio", **options, "seconds": seconds,
                     **score_channels(stereo, stems)})
    return [{"clip": clip.id, **row} for row in rows]


def main() -> None:
    from shsep.data import index_clips
    from shsep.metrics import summarise

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=3, help="use every n-th training clip (default 3)")
    parser.add_argument("--checkpoint", help="default: the songs model shipped with shsep, what `separate` uses")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "full_band_choices.csv")
    args = parser.parse_args()
    clips = index_clips(split="train")[:: args.every]
    with ProcessPoolExecutor(2, initializer=_init, initargs=(args.checkpoint,)) as pool:
        per_clip = pd.DataFrame([row for rows in pool.map(_clip_rows, clips) for row in rows])
    keys = ["input", "band", "high_band", "channels", "wiener_iterations"]
    per_clip[keys] = per_clip.reindex(columns=keys).fillna({"high_band": "-", "channels": "downmix",
                                                            "wiener_iterations": 0})
    rows = []
    for arm, group in per_clip.groupby(keys, sort=False):
        rows.append(dict(zip(keys, arm)) | summarise(group) | {"seconds_per_clip": group["seconds"].mean()})
    table = pd.DataFrame(rows)
    table.insert(0, "split", f"train (every {args.every}th clip)")
    args.out.parent.mkdir(exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.3f")
    columns = keys + ["clips_scored", "voice_gnsdr", "accompaniment_gnsdr", "voice_gsar", "accompaniment_gsar",
                      "seconds_per_clip"]
    print(table[columns].to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
