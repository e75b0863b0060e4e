"""Notebook 08's figures: label alignment, leakage into silence, error against pitch and against the input's
voice-to-accompaniment ratio, and the worst clip's spectrograms with its labels."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .failure_findings import leak_db
from .failure_analysis import LABEL_HOP, LABEL_OFFSET


def label_alignment(scan: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(scan["offset_ms"], scan["correlation"], marker="o")
    best = scan.loc[scan["correlation"].idxmax()]
    ax.axvline(best["offset_ms"], color="grey", linestyle="--", linewidth=0.8)
    ax.set(xlabel="centre of label frame 0 (ms)", ylabel="correlation: vocal label vs voice log-energy",
           title="Where MIR-1K's 20 ms label frames sit")
    return fig


def leakage_by_singer(frames: pd.DataFrame):
    """Per singer, in the frames nobody sings: the voice estimate's share of the separated energy (model, ideal
    mask), and the share of the voice's whole error those frames carry."""
    rows = []
    for singer, group in frames.groupby("singer"):
        silent = group[~group["vocal"]]
        rows.append({"singer": singer, "model": leak_db(silent), "ideal ratio mask": leak_db(silent, "ideal_"),
                     "error share": 100 * silent["voice_err"].sum() / group["voice_err"].sum()})
    table = pd.DataFrame(rows).set_index("singer")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
    table[["model", "ideal ratio mask"]].plot.bar(ax=left)
    left.set(ylabel="voice estimate / both estimates (dB)", xlabel="", title="Voice leaking into non-vocal frames")
    table["error share"].plot.bar(ax=right, color="tab:red")
    right.set(ylabel="% of the voice's error energy", xlabel="", title="Share of the error in non-vocal frames")
    fig.tight_layout()
    return fig


def snr_against_pitch(table: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(8, 4))
    for singer, group in table.groupby("singer"):
        pooled = singer == "all singers"
        ax.plot(group["pitch_centre"], group["model_snr_db"], marker="o" if pooled else ".",
                linewidth=2.5 if pooled else 0.8, color="black" if pooled else None, label=singer)
    pooled = table[table["singer"] == "all singers"]
    ax.plot(pooled["pitch_centre"], pooled["ideal_snr_db"], "k--", label="ideal ratio mask (all)")
    ax.set(xlabel="sung pitch (semitones, MIDI)", ylabel="voice signal-to-error (dB)",
           title="Voice error of sung frames against pitch")
    ax.legend(fontsize=7, ncol=2)
    return fig


def gnsdr_against_input_snr(table: pd.DataFrame, as_recorded: dict, paper: dict):
    fig, ax = plt.subplots(figsize=(6, 4))
    for source, colour in (("voice", "tab:blue"), ("accompaniment", "tab:orange")):
        ax.plot(table["snr_db"], table[f"{source}_gnsdr"], marker="o", color=colour, label=f"{source}, remixed")
        ax.scatter([0], [as_recorded[f"{source}_gnsdr"]], marker="s", color=colour, label=f"{source}, as recorded")
        ax.scatter([0], [paper[source]], marker="*", s=120, color=colour, edgecolor="black",
                   label=f"{source}, Park et al. (825 clips)")
    ax.set(xlabel="voice-to-accompaniment ratio of the input (dB)", ylabel="GNSDR (dB)",
           title="Separation against the input's balance")
    ax.legend(fontsize=7)
    return fig


def worst_clip(sources, voice_estimate: np.ndarray, vocal: np.ndarray, title: str, offset: int = LABEL_OFFSET):
    """Spectrograms of the mixture, the true voice and the estimate (16 kHz), with the vocal label below."""
    from .masking import native_grid
    from .plots import spectrogram

    grid = native_grid(sources.sample_rate)
    fig, axes = plt.subplots(4, 1, figsize=(10, 8), sharex=True,
                             gridspec_kw={"height_ratios": [3, 3, 3, 0.6]})
    seconds = len(sources.mixture) / sources.sample_rate
    for ax, (label, signal) in zip(axes, (("mixture", sources.mixture), ("true voice", sources.voice),
                                          ("estimated voice", voice_estimate))):
        spectrogram(ax, np.abs(grid.analyse(signal)), label, grid=grid)
    times = (offset + np.arange(len(vocal)) * LABEL_HOP) / sources.sample_rate
    axes[3].fill_between(times, vocal.astype(float), step="mid", color="tab:green")
    axes[3].set(yticks=[], xlabel="seconds", ylabel="sung", xlim=(0, seconds))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def system_frame_errors(table: pd.DataFrame):
    """annar_4: leakage into silence and sung-frame voice error for each system's separations."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3))
    for ax, (column, label) in zip(axes, (("voice_leak_db", "voice leak, non-vocal frames (dB)"),
                                          ("accompaniment_loss_db", "accompaniment error, non-vocal (dB)"),
                                          ("sung_voice_snr_db", "voice signal-to-error, sung frames (dB)"))):
        ax.bar(table["system"], table[column], color=["tab:blue", "tab:green", "tab:purple"][: len(table)])
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.tight_layout()
    return fig

