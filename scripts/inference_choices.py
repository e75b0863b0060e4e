"""Measure the network's windowing, precision and shifts, and Park's path's post-filter, at separation time on
the validation songs (never test clips), and write results/inference_choices.csv.

For each (windowing, precision, post-filter, shifts averaged): Park's protocol and the full-band path, scored on
the 15 clips of the validation songs that the cpu recipe holds out of training (`profiles.VALIDATION_SONGS`), plus
the network's seconds per minute of 16 kHz audio (one process, 2 threads). The checkpoint must not have trained on
these songs.
Run: python scripts/inference_choices.py --checkpoint runs/cpu-heldout/best.pt (a run that held them out)
"""
from __future__ import annotations

import argparse
import time

import pandas as pd

# (windowing, precision, post-filter of Park's path, shifts averaged); each is scored on both paths, except that
# a post-filter applies to Park's path only
CHOICES = [("park", "fp32", "none", 1), ("park", "bf16", "none", 1), ("long", "fp32", "none", 1),
           ("long", "bf16", "none", 1), ("park", "fp32", "soft-mask", 1),
           ("park", "fp32", "none", 2), ("park", "fp32", "none", 4), ("park", "fp32", "soft-mask", 4),
           ("long", "bf16", "none", 4)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--out", default="results/inference_choices.csv")
    args = parser.parse_args()

    from shsep.checkpoints import read_checkpoint
    from shsep.data import index_clips, load_sources, split_validation
    from shsep.evaluate import separate_and_score
    from shsep.machine import describe_machine
    from shsep.metrics import summarise
    from shsep.profiles import VALIDATION_SONGS
    from shsep.separate import Separator
    from shsep.stages import collecting

    trained_on = read_checkpoint(args.checkpoint)["config"].get("validation_songs", [])
    if set(trained_on) != set(VALIDATION_SONGS):
        raise SystemExit(f"{args.checkpoint} did not hold out {VALIDATION_SONGS}: its scores on them would be flattered")
    _, clips = split_validation(index_clips(split="train"), VALIDATION_SONGS)
    sources = [load_sources(c) for c in clips]
    minutes = sum(len(s.mixture) for s in sources) / 16000 / 60
    rows = []
    for windowing, precision, post_filter, shifts in CHOICES:
        separator = Separator.from_checkpoint(args.checkpoint, device="cpu", windowing=windowing, precision=precision,
                                              post_filter=post_filter, shifts=shifts)
        separator.separate(sources[0].mixture[:16000], 16000)  # warm-up
        for band in ("park",) if post_filter != "none" else ("park", "full"):
            with collecting() as stages:
                started = time.perf_counter()
                per_clip = pd.DataFrame([separate_and_score(separator, s, band=band, cache=True) for s in sources])
            summary = summarise(per_clip)
            rows.append({"windowing": windowing, "precision": separator.precision, "post_filter": post_filter,
                         "shifts": shifts, "band": band,
                         "clips": summary["clips_scored"]}
                        | {k: round(v, 3) for k, v in summary.items() if k != "clips_scored"}
                        | {"network_seconds_per_minute": round(stages.get("network", 0.0) / minutes, 3),
                           "machine": describe_machine()})
            print(rows[-1])
    pd.DataFrame(rows).to_csv(args.out, index=False)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
