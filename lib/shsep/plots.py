"""Figures and players shared by the notebooks (matplotlib, HTML audio); each figure function returns its Figure."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

def save(fig, name: str, folder: str | Path | None = None) -> None:
    """Save a figure as <folder>/<name>.png (default: this run's outputs/<profile>/figures, see `notebook`).

    Returns nothing, so that a notebook cell ending with it shows no (machine-specific) path."""
    from .notebook import figures_folder, resolve_profile

    folder = Path(folder or figures_folder(resolve_profile()))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")


def spectrogram(ax, magnitude: np.ndarray, title: str = "", grid=None, floor_db: float = -80.0):
    """A magnitude spectrogram (bins, frames) in dB relative to its maximum, time and frequency on the axes.

    grid: the STFT it came from (anything with sample_rate, n_fft and hop_length: a FrontEnd, such as `masking.native_grid`;
    default Park's front end)."""
    from .spectrogram import PARK

    grid = grid or PARK
    db = 20 * np.log10(np.maximum(magnitude, 1e-10) / max(magnitude.max(), 1e-10))
    extent = [0, magnitude.shape[1] * grid.hop_length / grid.sample_rate, 0,
              magnitude.shape[0] * grid.sample_rate / grid.n_fft]
    image = ax.imshow(np.maximum(db, floor_db), origin="lower", aspect="auto", extent=extent, cmap="magma")
    ax.set(title=title, xlabel="time (s)", ylabel="frequency (Hz)")
    return image


def loss_curves(log, smooth: int = 50):
    """Training loss per stack (moving average over `smooth` steps), log scale."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for column in [c for c in log.columns if c.startswith("loss_stack")]:
        ax.plot(log["step"], log[column].rolling(smooth, min_periods=1).mean(), label=column.replace("loss_", ""))
    ax.set(xlabel="step", ylabel="L1 loss (normalised magnitude)", yscale="log", title="training loss per stack")
    ax.legend()
    return fig


def trial_losses(logs: dict, trials, trial_steps: int, smooth: int = 50):
    """The screening of initial weights: each trial's training loss (moving average), the chosen one bold, and
    the steps whose mean loss chose it shaded (train.read_trial_logs, train.read_trials)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    chosen = int(trials.loc[trials["chosen"], "init_seed"].iloc[0])
    for seed, log in logs.items():
        loss = trials.loc[trials["init_seed"] == seed, "loss"].iloc[0]
        ax.plot(log["step"], log["loss"].rolling(smooth, min_periods=1).mean(), lw=2.5 if seed == chosen else 1,
                label=f"init {seed}: {loss * 1e3:.2f}e-3" + (" (continued)" if seed == chosen else ""))
    ax.axvspan(trial_steps // 2, trial_steps, color="0.9", zorder=0, label="the steps that choose")
    ax.set(xlabel="step", ylabel="L1 loss (normalised magnitude)", yscale="log",
           title="screening the initial weights: the same windows, the lowest loss continues")
    ax.legend()
    return fig


def validation_curve(validation):
    """GNSDR on the validation songs at every checkpoint (train.read_validation_log); the best one is marked."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for source in ("voice", "accompaniment"):
        ax.plot(validation["step"], validation[f"{source}_gnsdr"], marker="o", label=source)
    best = validation.loc[validation["mean_gnsdr"].idxmax()]
    ax.axvline(best["step"], color="k", lw=0.8, ls="--", label=f"best (step {int(best['step'])})")
    ax.set(xlabel="step", ylabel="GNSDR (dB)",
           title=f"validation songs ({int(best['clips'])} training clips held out), Park's protocol")
    ax.legend()
    return fig


def ablation_bars(log, spread=None):
    """Voice and accompaniment GNSDR of every arm (one budget's log), side by side; `spread` (dB) shades
    the band around the base arm that reseeding alone spans."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.35 * len(log) + 1.5), sharey=True)
    arms = list(log["arm"])
    y = np.arange(len(arms))
    colours = {q: f"C{i}" for i, q in enumerate(dict.fromkeys(log["question"]))}
    for ax, source in zip(axes, ("voice", "accompaniment")):
        values = log[f"{source}_gnsdr"].to_numpy(float)
        ax.barh(y, values, color=[colours[q] for q in log["question"]])
        for yi, v in zip(y, values):
            ax.text(v, yi, f" {v:.2f}", va="center", fontsize=8)
        if "base" in arms:
            base = values[arms.index("base")]
            ax.axvline(base, color="k", lw=0.8)
            if spread is not None and np.isfinite(spread[f"{source}_gnsdr"]):
                s = spread[f"{source}_gnsdr"]
                ax.axvspan(base - s, base + s, color="0.8", zorder=0)
        ax.set(title=f"{source} GNSDR (dB)", yticks=y, yticklabels=arms)
    axes[0].invert_yaxis()  # shared: first arm on top
    return fig


def spread_labels(x, y, gap: float = 0.2, width: float = 0.9) -> np.ndarray:
    """Heights for text labels of points (x, y) so that no two labels whose x lie within `width` of each other
    (a label's length, in x units) are closer than `gap` in y: each label, lowest first, is raised just above
    the ones already placed beside it."""
    order = np.argsort(y, kind="stable")
    heights = np.asarray(y, float).copy()
    placed: list[int] = []
    for i in order:
        beside = [j for j in placed if abs(x[j] - x[i]) < width]
        if beside:
            heights[i] = max(heights[i], max(heights[j] for j in beside) + gap)
        placed.append(i)
    return heights


def frontier(cost, score) -> np.ndarray:
    """Which points no other point beats at no more cost: True where every point of lower or equal cost scores
    lower (ties at equal cost: the first of them), so a cost-quality plot can label its frontier alone."""
    cost, score = np.asarray(cost, float), np.asarray(score, float)
    on_frontier = np.zeros(len(cost), bool)
    best = -np.inf
    for i in np.lexsort((-score, cost)):  # cheapest first, the best of equal cost first
        if score[i] > best:
            on_frontier[i], best = True, score[i]
    return on_frontier


def gnsdr_against_training_time(points, paper: dict | None = None, goal: dict | None = None, floor_db: float = 4.0,
                                axis: str = "hours"):
    """GNSDR (voice, accompaniment) against training hours (axis "hours") or training compute (axis "gflop"),
    log axis, one marker per group of `recipe_search.training_time_points`; `paper` ({source: dB}, Park's
    published figure, no time given) and `goal` (a target on the clips present here) as horizontal lines; runs
    below floor_db (failures) are counted. The recipe runs on the `frontier` (no run of less time or compute scores
    higher) are labelled, the others only marked: with dozens of runs, labels for all cannot be read."""
    xlabel = {"hours": "training time (hours, log scale)",
              "gflop": "training compute (GFLOP: 3 × forward FLOPs × windows, log scale)"}[axis]
    fig, axes = plt.subplots(1, 2, figsize=(12, 6), sharex=True)
    markers = "os^vDP"
    for ax, source in zip(axes, ("voice", "accompaniment")):
        top = float(points[f"{source}_gnsdr"].max())
        for i, (group, rows) in enumerate(points.groupby("group", sort=False)):
            clips = "/".join(str(c) for c in sorted(rows["clips"].dropna().unique()))
            ax.scatter(rows[axis], rows[f"{source}_gnsdr"], marker=markers[i % len(markers)],
                       label=f"{group}, {clips} clips", alpha=0.8)
            if group.startswith("shsep recipe"):
                shown = rows[rows[f"{source}_gnsdr"] >= floor_db]
                shown = shown[frontier(shown[axis], shown[f"{source}_gnsdr"])]
                heights = spread_labels(np.log10(shown[axis].to_numpy(float)), shown[f"{source}_gnsdr"].to_numpy(float))
                for (_, row), height in zip(shown.iterrows(), heights):
                    ax.annotate(row["label"], (row[axis], row[f"{source}_gnsdr"]), xytext=(row[axis] * 1.25, height),
                                fontsize=7, va="center", arrowprops=dict(arrowstyle="-", lw=0.4, color="0.6"))
                top = max([top, *heights])
        if paper:
            ax.axhline(paper[source], color="k", ls="--", lw=1, label="Park et al. 2018 (GPU, 825 clips; time not given)")
        if goal:
            ax.axhline(goal[source], color="C3", ls=":", lw=1, label="goal on the clips present here")
        if axis == "hours":
            ax.axvline(2.0, color="0.5", lw=0.8, label="the 2-hour CPU budget")
        failed = int((points[f"{source}_gnsdr"] < floor_db).sum())
        ax.set_ylim(bottom=floor_db, top=top + 0.4)
        ax.set(xscale="log", xlabel=xlabel, ylabel="GNSDR (dB)",
               title=source + (f" ({failed} failed runs below {floor_db:g} dB not shown)" if failed else ""))
        ax.text(0.01, 0.99, f"labelled: the recipe runs no run of less {'time' if axis == 'hours' else 'compute'} "
                "beats", transform=ax.transAxes, fontsize=8, va="top", color="0.3")
    axes[1].legend(fontsize=8, loc="lower right")
    return fig


def validation_against_test(runs):
    """Validation against test GNSDR for the recipe runs (`recipe_search.recipe_runs`): does choosing on the
    validation songs pick what the test clips would have picked?"""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, source in zip(axes, ("voice", "accompaniment")):
        x, y = runs[f"validation_{source}_gnsdr"], runs[f"test_{source}_gnsdr"]
        ax.scatter(x, y)
        for arm, xi, yi in zip(runs["arm"], x, y):
            ax.annotate(arm, (xi, yi), fontsize=8, xytext=(4, 4), textcoords="offset points")
        valid = np.isfinite(x) & np.isfinite(y)
        if valid.any():
            low, high = min(x[valid].min(), y[valid].min()) - 0.3, max(x[valid].max(), y[valid].max()) + 0.3
            ax.plot([low, high], [low, high], color="0.6", lw=0.8, label="test = validation")
            ax.legend(fontsize=8)
        ax.set(xlabel="validation GNSDR (dB, 15 training clips held out)", ylabel="test GNSDR (dB)", title=source)
    return fig


def activation_traces(traces: dict, stack: int | None = None):
    """What the prediction heads do during training, one line per run ({label: activations.csv frame}).

    Left: share of predictions ≤ 0 (zero after the ReLU / the clip at 0); middle: gradient norm reaching
    the head (train mode); right: mean estimate over mean reference (1 = right overall level).
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for label, frame in traces.items():
        last = frame[frame["stack"] == (stack or frame["stack"].max())]
        axes[0].plot(last["step"], last["prediction_nonpositive_fraction"], marker=".", label=label)
        axes[1].plot(last["step"], last["head_gradient_norm"].clip(lower=1e-12), marker=".", label=label)
        axes[2].plot(last["step"], last["estimate_mean"] / last["reference_mean"], marker=".", label=label)
    axes[0].set(title="predictions ≤ 0 (share)", xlabel="step", ylim=(-0.05, 1.05))
    axes[1].set(title="gradient norm at the head", xlabel="step", yscale="log")
    axes[2].set(title="mean estimate / mean reference", xlabel="step", yscale="log")
    axes[0].legend(fontsize=8)
    return fig


def audio_player(audio: np.ndarray, sample_rate: int, label: str = "", seconds: float | None = None):
    """An HTML audio player for a mono (samples,) or multichannel (channels, samples) signal, at its true level.

    Embedded as MP3 (about 20× smaller than WAV, so stereo 44.1 kHz excerpts keep notebooks light), clipped to
    [-1, 1] and not normalised, so players can be compared by ear; `seconds` keeps only the start.
    """
    import base64
    import io

    import soundfile as sf
    from IPython.display import HTML

    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    if seconds is not None:
        audio = audio[:, : int(seconds * sample_rate)]
    encoded = io.BytesIO()
    sf.write(encoded, np.clip(audio, -1, 1).T, sample_rate, format="MP3")
    source = base64.b64encode(encoded.getvalue()).decode()
    channels = {1: "mono", 2: "stereo"}.get(audio.shape[0], f"{audio.shape[0]} channels")
    return HTML(f'<div style="display:flex;align-items:center;gap:1em"><span style="min-width:22em">{label} '
                f'({sample_rate} Hz, {channels})</span><audio controls preload="auto" '
                f'src="data:audio/mpeg;base64,{source}"></audio></div>')


def full_band_spectrograms(signals: list[tuple[str, np.ndarray]], sample_rate: int, modelled_hz: float = 4000.0):
    """Spectrograms up to the Nyquist frequency of mono signals at one rate, with the band the network sees marked."""
    from .masking import native_grid

    stft = native_grid(sample_rate)
    fig, axes = plt.subplots(1, len(signals), figsize=(4 * len(signals), 3.5), sharey=True)
    for ax, (label, signal) in zip(np.atleast_1d(axes), signals):
        spectrogram(ax, np.abs(stft.analyse(signal)), label, grid=stft)
        ax.axhline(modelled_hz, color="white", linestyle="--", linewidth=0.8)
    return fig


def listen(separator, sources, label: str, excerpt_seconds: float = 6.0):
    """Notebook 06's view of one clip: print its scores, show players for the mixture, the true stems and ours
    (Park's path, at true levels), and return a figure of their spectrograms."""
    from IPython.display import display

    from .metrics import score_estimates
    from dataclasses import replace

    from .spectrogram import PARK

    rate = sources.sample_rate
    grid = replace(PARK, sample_rate=rate)  # Park's STFT sizes on the clip's own rate
    ours = separator.separate(sources.mixture, rate)
    scores = score_estimates(np.stack([sources.accompaniment, sources.voice]), np.stack(ours), sources.mixture)
    print(f"{label}: voice SDR {scores['voice_sdr']:.2f} dB (NSDR {scores['voice_nsdr']:.2f}), "
          f"accompaniment SDR {scores['accompaniment_sdr']:.2f} dB (NSDR {scores['accompaniment_nsdr']:.2f})")
    signals = [("mixture", sources.mixture), ("true voice", sources.voice), ("our voice", ours.voice),
               ("true accompaniment", sources.accompaniment), ("our accompaniment", ours.accompaniment)]
    excerpt = int(excerpt_seconds * rate)
    for name, signal in signals:
        display(audio_player(signal[:excerpt], rate, name))
    fig, axes = plt.subplots(1, len(signals), figsize=(4 * len(signals), 3.5), sharey=True)
    for ax, (name, signal) in zip(axes, signals):
        spectrogram(ax, np.abs(grid.analyse(signal[:excerpt])), name, grid=grid)
    return fig


def masks_per_stack(model, spec, start: int = 40, frames: int = 64):
    """What each stack of a network predicts for one patch of a ClipSpectrogram: the mixture patch and the voice
    and accompaniment masks (clipped at 0), one row per stack."""
    import torch

    patch = torch.from_numpy(spec.mixture[:, start: start + frames])[None, None]
    with torch.no_grad():
        predictions = [p[0].clamp(min=0).numpy() for p in model(patch)]
    fig, axes = plt.subplots(len(predictions), 3, figsize=(13, 3.2 * len(predictions)), squeeze=False)
    for stack, (row, prediction) in enumerate(zip(axes, predictions), start=1):
        spectrogram(row[0], spec.mixture[:, start: start + frames], "mixture patch")
        for ax, index, name in [(row[1], 1, "voice"), (row[2], 0, "accompaniment")]:
            image = ax.imshow(prediction[min(index, len(prediction) - 1)], origin="lower", aspect="auto", vmin=0,
                              vmax=1.5, cmap="viridis")
            ax.set(title=f"stack {stack}: {name} mask", xlabel="frame", ylabel="bin")
        fig.colorbar(image, ax=row[2])
    fig.tight_layout()
    return fig
