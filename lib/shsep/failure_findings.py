"""Notebook 08's measurements over many clips and their one-sentence readings, generated from the numbers.

`run_analysis` runs `failure_analysis.analyse_clip` over clips in worker processes; the functions below pool its
frame tables (energies summed over frames) into the answers: leakage into silence, error against pitch, error
against the input's voice-to-accompaniment ratio, and the worst clips.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .failure_analysis import LABEL_OFFSET, analyse_clip, ratio_db
from .metrics import summarise

_separator = None  # one per worker process, inherited from the parent where processes fork


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _analyse(job):
    from .data import load_sources

    clip, snr_db, frames, offset = job
    return analyse_clip(_separator, clip, load_sources(clip), snr_db, frames, offset)


def run_analysis(separator, clips, snr_db: float | None = None, frames: bool = True, workers: int | None = None,
                 offset: int = LABEL_OFFSET):
    """(per-clip rows, all clips' frame tables) of `analyse_clip` over clips, in `workers` processes."""
    from .evaluate import map_in_workers

    global _separator
    _separator = separator
    jobs = [(clip, snr_db, frames, offset) for clip in clips]
    results = map_in_workers(_analyse, jobs, workers or min(len(jobs), os.cpu_count() or 1), _set_threads)
    per_clip = pd.DataFrame([row for row, _ in results])
    tables = [table for _, table in results if table is not None]
    return per_clip, (pd.concat(tables, ignore_index=True) if tables else None)


def best_offset(scan: pd.DataFrame) -> int:
    """The label offset (samples) where `alignment_scan` peaks."""
    return int(scan.loc[scan["correlation"].idxmax(), "offset_samples"])


def alignment_sentence(scan: pd.DataFrame) -> str:
    best = scan.loc[scan["correlation"].idxmax()]
    worst = scan["correlation"].min()
    return (f"The labels match the voice stem's energy best with frame 0 centred at {best['offset_ms']:.0f} ms "
            f"(correlation {best['correlation']:.3f}, against {worst:.3f} at the worst offset tried), so frame k is "
            f"centred at {best['offset_ms']:.0f} + 20·k ms.")


def silence_leakage(frames: pd.DataFrame) -> dict:
    """In the frames where nobody sings: the voice estimate's share of the separated energy (model and ideal mask),
    the accompaniment lost there, and the share of each source's whole error those frames carry."""
    silent = frames[~frames["vocal"]]
    return {"silent_frame_share": float(len(silent) / len(frames)),
            "voice_leak_db": leak_db(silent),
            "ideal_voice_leak_db": leak_db(silent, "ideal_"),
            "accompaniment_loss_db": ratio_db(silent["accompaniment_err"].sum(), silent["accompaniment_ref"].sum()),
            "voice_error_share": float(silent["voice_err"].sum() / frames["voice_err"].sum()),
            "accompaniment_error_share": float(silent["accompaniment_err"].sum() / frames["accompaniment_err"].sum())}


def leak_db(frames: pd.DataFrame, prefix: str = "") -> float:
    """The voice estimate's energy against both estimates' (dB): where nobody sings, what leaks into the voice."""
    return ratio_db(frames[f"{prefix}voice_est"].sum(),
                    frames[f"{prefix}voice_est"].sum() + frames[f"{prefix}accompaniment_est"].sum())


def leakage_sentence(leak: dict) -> str:
    return (f"Where nobody sings ({100 * leak['silent_frame_share']:.0f} % of the frames), the voice estimate still "
            f"takes {leak['voice_leak_db']:.1f} dB of the separated energy (the ideal mask {leak['ideal_voice_leak_db']:.1f} "
            f"dB), the accompaniment's error there is {leak['accompaniment_loss_db']:.1f} dB relative to the accompaniment "
            f"itself, and those frames carry "
            f"{100 * leak['voice_error_share']:.0f} % of the voice's error energy and "
            f"{100 * leak['accompaniment_error_share']:.0f} % of the accompaniment's.")


def snr_by_pitch(frames: pd.DataFrame, width: int = 4, least_frames: int = 50) -> pd.DataFrame:
    """Voice signal-to-error ratio (dB) of the sung frames, binned by pitch (`width` semitones), per singer and for
    all singers, for the model and the ideal ratio mask; bins with fewer than least_frames frames are dropped."""
    sung = frames[frames["vocal"] & (frames["pitch"] > 0)].copy()
    sung["pitch_bin"] = (sung["pitch"] // width * width).astype(int)
    rows = []
    for singer, group in [("all singers", sung)] + list(sung.groupby("singer")):
        for low, part in group.groupby("pitch_bin"):
            if len(part) >= least_frames:
                rows.append({"singer": singer, "pitch_bin": low, "pitch_centre": low + width / 2, "frames": len(part),
                             "model_snr_db": ratio_db(part["voice_ref"].sum(), part["voice_err"].sum()),
                             "ideal_snr_db": ratio_db(part["voice_ref"].sum(), part["ideal_voice_err"].sum())})
    return pd.DataFrame(rows)


def pitch_sentence(table: pd.DataFrame, width: int = 4) -> str:
    pooled = table[table["singer"] == "all singers"].sort_values("pitch_bin")
    low, high = pooled.iloc[0], pooled.iloc[-1]
    best = pooled.loc[pooled["model_snr_db"].idxmax()]
    shortfall_low, shortfall_high = (r["ideal_snr_db"] - r["model_snr_db"] for r in (low, high))
    return (f"Sung frames at {low['pitch_bin']}–{low['pitch_bin'] + width} semitones score {low['model_snr_db']:.1f} dB "
            f"(ideal mask {low['ideal_snr_db']:.1f}), at {high['pitch_bin']}–{high['pitch_bin'] + width} "
            f"{high['model_snr_db']:.1f} dB (ideal {high['ideal_snr_db']:.1f}), best at {best['pitch_bin']}–"
            f"{best['pitch_bin'] + width} ({best['model_snr_db']:.1f} dB); the model falls {shortfall_low:.1f} dB short "
            f"of the ideal mask for the lowest voices and {shortfall_high:.1f} dB for the highest.")


def snr_table(per_level: dict[float, pd.DataFrame]) -> pd.DataFrame:
    """GNSDR / GSIR / GSAR per input voice-to-accompaniment ratio (dB)."""
    return pd.DataFrame([{"snr_db": level} | summarise(rows) for level, rows in sorted(per_level.items())])


def snr_sentence(table: pd.DataFrame) -> str:
    levels = table.set_index("snr_db")
    low, mid, high = (levels.loc[level] for level in (-5.0, 0.0, 5.0))
    trends = []
    for source, quieter in (("voice", low), ("accompaniment", high)):
        best = levels[f"{source}_gnsdr"].idxmax()
        trends.append(f"the {source} gains most at {best:+.0f} dB"
                      + (" (where it is the quieter source)" if levels.loc[best, f"{source}_gnsdr"] ==
                         quieter[f"{source}_gnsdr"] else ""))
    return (f"From −5 to 0 to +5 dB of voice in the input ({int(mid['clips_scored'])} clips), the voice GNSDR goes "
            f"{low['voice_gnsdr']:.2f} → {mid['voice_gnsdr']:.2f} → {high['voice_gnsdr']:.2f} dB and the accompaniment's "
            f"{low['accompaniment_gnsdr']:.2f} → {mid['accompaniment_gnsdr']:.2f} → {high['accompaniment_gnsdr']:.2f} "
            f"dB: {' and '.join(trends)}.")


def as_recorded_sentence(table: pd.DataFrame, as_recorded: dict) -> str:
    """The clips as recorded (Park's protocol) beside the 0 dB remix of the same clips."""
    remixed = table.set_index("snr_db").loc[0.0]
    gaps = [abs(as_recorded[f"{s}_gnsdr"] - remixed[f"{s}_gnsdr"]) for s in ("voice", "accompaniment")]
    figures = f"{as_recorded['voice_gnsdr']:.2f} / {as_recorded['accompaniment_gnsdr']:.2f} dB"
    if max(gaps) < 0.01:
        return (f"As recorded, the same clips score the same {figures}: MIR-1K stores its two stems at equal energy, "
                "so the paper's protocol is the 0 dB point of this curve.")
    return f"As recorded (Park's protocol, the same {int(as_recorded['clips_scored'])} clips): {figures}."


TRAITS = ["vocal_share", "median_pitch", "pitch_range", "accompaniment_over_voice_db"]


def worst_clips(per_clip: pd.DataFrame, count: int = 5) -> pd.DataFrame:
    return per_clip.nsmallest(count, "voice_nsdr")[["clip", "singer", "voice_nsdr", "accompaniment_nsdr"] + TRAITS]


def worst_sentence(per_clip: pd.DataFrame, worst: pd.DataFrame) -> str:
    singers = worst["singer"].value_counts()
    rest = per_clip[~per_clip["clip"].isin(worst["clip"])]
    compare = ", ".join(f"{label} {worst[c].median():.1f} against {rest[c].median():.1f}" for c, label in
                        (("accompaniment_over_voice_db", "accompaniment over voice in sung frames (dB)"),
                         ("median_pitch", "median pitch (semitones)"), ("vocal_share", "share of sung frames")))
    return (f"The {len(worst)} worst clips by voice NSDR ({worst['voice_nsdr'].min():.1f} to "
            f"{worst['voice_nsdr'].max():.1f} dB, against a median of {per_clip['voice_nsdr'].median():.1f}) come from "
            + ", ".join(f"{s} ({n})" for s, n in singers.items()) + f"; their medians: {compare} for the other clips.")


def annar_4_frames(estimates: dict[str, tuple[np.ndarray, np.ndarray]], clips, sources_list, labels_list,
                   offset: int = LABEL_OFFSET) -> pd.DataFrame:
    """Silence leakage and sung-frame voice SNR of whole-song estimates of annar_4 (joined clips), per system:
    estimates {system: (accompaniment, voice)} at 16 kHz, cut at the clips' boundaries."""
    from .failure_analysis import frame_table

    rows = []
    for system, (accompaniment, voice) in estimates.items():
        start, tables = 0, []
        for sources, labels in zip(sources_list, labels_list):
            n = len(sources.mixture)
            a, v = (np.pad(x[start: start + n], (0, max(0, start + n - len(x)))) for x in (accompaniment, voice))
            tables.append(frame_table(sources, a, v, labels, offset))
            start += n
        frames = pd.concat(tables, ignore_index=True)
        silent, sung = frames[~frames["vocal"]], frames[frames["vocal"]]
        rows.append({"system": system, "clips": len(clips),
                     "voice_leak_db": leak_db(silent),
                     "accompaniment_loss_db": ratio_db(silent["accompaniment_err"].sum(),
                                                       silent["accompaniment_ref"].sum()),
                     "sung_voice_snr_db": ratio_db(sung["voice_ref"].sum(), sung["voice_err"].sum())})
    return pd.DataFrame(rows)
