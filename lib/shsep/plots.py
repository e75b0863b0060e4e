"""Figures shared by the notebooks (matplotlib); each returns its Figure and can save it to figures/."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

FIGURES = Path(__file__).resolve().parents[2] / "figures"


def save(fig, name: str, folder: str | Path | None = None) -> Path:
    folder = Path(folder or FIGURES)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def spectrogram(ax, magnitude: np.ndarray, title: str = "", sample_rate: int = 8000, hop: int = 256,
                n_fft: int = 1024, floor_db: float = -80.0):
    """A magnitude spectrogram (bins, frames) in dB relative to its maximum, time and frequency on the axes."""
    db = 20 * np.log10(np.maximum(magnitude, 1e-10) / max(magnitude.max(), 1e-10))
    extent = [0, magnitude.shape[1] * hop / sample_rate, 0, magnitude.shape[0] * sample_rate / n_fft]
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
