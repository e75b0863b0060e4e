"""What a training run writes to its folder, and how it is read back.

``checkpoint.pt`` (the latest, atomic), ``best.pt`` (the best on the validation songs), ``log.csv`` (per-stack
losses per step), ``validation.csv``, ``config.json`` and ``run.json`` (precision, machine, clips).
"""
from __future__ import annotations

import copy
import csv
import json
import math
import os
import shutil
from pathlib import Path

import torch

from ..checkpoints import save_atomic
from ..paths import atomic_path
from ..profiles import TrainConfig

CHECKPOINT_NAME = "checkpoint.pt"
BEST_NAME = "best.pt"  # the checkpoint with the best validation figure (runs with validation songs)
LOG_NAME = "log.csv"
VALIDATION_LOG_NAME = "validation.csv"
RUN_INFO_NAME = "run.json"
CONFIG_NAME = "config.json"


def write_config(out_dir: Path, config: TrainConfig) -> None:
    """The run's config.json (a time budget's decided steps included), written atomically."""
    with atomic_path(out_dir / CONFIG_NAME) as temporary:
        temporary.write_text(json.dumps(config.to_dict(), indent=2) + "\n")


def write_run_info(out_dir: Path, precision: str, device, clips, validation_clips, init_seed: int) -> None:
    from ..machine import describe_machine

    info = {"precision": precision, "device": str(device), "machine": describe_machine(device),
            "torch": torch.__version__, "training_clips": len(clips),
            "validation_clips": [c.id for c in validation_clips], "initial_weights_seed": init_seed}
    (out_dir / RUN_INFO_NAME).write_text(json.dumps(info, indent=2) + "\n")


def save_checkpoint(path, model, optimizer, step, config, training_model=None):
    """"model": the weights to separate with (the average, with EMA); "training_model": the raw weights, with EMA."""
    payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
               "rng_state": torch.get_rng_state(), "config": config.to_dict(), "torch_version": str(torch.__version__)}
    if training_model is not None:
        payload["training_model"] = training_model.state_dict()
    save_atomic(payload, path)


def load_training_state(payload: dict, model, average, optimizer) -> int:
    """Load a checkpoint's weights, weight average, optimizer and RNG state; return its step."""
    model.load_state_dict(payload.get("training_model", payload["model"]))
    if average is not None:
        average.model.load_state_dict(payload["model"])
        average.updates = int(payload["step"])
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["rng_state"])
    return int(payload["step"])


class TrainingLog:
    """CSV of per-stack losses per step (and tensorboard, where installed); on resume, rows after the
    checkpoint's step are dropped."""

    def __init__(self, path: Path, stacks: int, resumed_step: int):
        self.path = path
        self.fields = ["step", "lr", "loss"] + [f"loss_stack{i + 1}" for i in range(stacks)] + ["seconds"]
        rows = []
        if resumed_step and path.is_file():
            with open(path) as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resumed_step]
        self.seconds_before = float(rows[-1]["seconds"]) if rows else 0.0  # training time before a resume
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, self.fields)
            writer.writeheader()
            writer.writerows(rows)
        self.file = open(path, "a", newline="")
        self.writer = csv.writer(self.file)
        self.tensorboard = _tensorboard(path.parent)

    def write(self, step, lr, losses, seconds):
        self.writer.writerow([step, f"{lr:.3g}", f"{sum(losses):.6f}"] + [f"{x:.6f}" for x in losses] + [f"{seconds:.3f}"])
        self.file.flush()
        if self.tensorboard is not None:
            self.tensorboard.add_scalar("loss/total", sum(losses), step)
            for i, x in enumerate(losses):
                self.tensorboard.add_scalar(f"loss/stack{i + 1}", x, step)

    def close(self):
        self.file.close()
        if self.tensorboard is not None:
            self.tensorboard.close()


def _tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder / "tensorboard"))


class Validation:
    """Scores the separating weights on the validation songs at every checkpoint (Park's protocol, GNSDR);
    keeps the best checkpoint (by the mean of voice and accompaniment GNSDR) as best.pt."""

    def __init__(self, out_dir: Path, clips, config: TrainConfig, resumed_step: int):
        from ..data import load_sources

        self.path = out_dir / VALIDATION_LOG_NAME
        self.best_path = out_dir / BEST_NAME
        self.sources = [load_sources(c) for c in clips]
        self.config = config
        self.rows = []
        if resumed_step and self.path.is_file():
            with open(self.path) as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resumed_step]

    @property
    def best(self) -> float:
        return max((float(r["mean_gnsdr"]) for r in self.rows), default=-math.inf)

    def score(self, step: int, model, checkpoint_path: Path) -> None:
        import pandas as pd

        from ..evaluate import separate_and_score
        from ..metrics import summarise
        from ..separate import Separator

        separator = Separator(copy.deepcopy(model), target=self.config.target, front_end=self.config.front_end)
        per_clip = pd.DataFrame([separate_and_score(separator, s, cache=True) for s in self.sources])
        summary = summarise(per_clip)
        row = {"step": step, "clips": len(self.sources), "voice_gnsdr": round(summary["voice_gnsdr"], 4),
               "accompaniment_gnsdr": round(summary["accompaniment_gnsdr"], 4),
               "mean_gnsdr": round((summary["voice_gnsdr"] + summary["accompaniment_gnsdr"]) / 2, 4)}
        if row["mean_gnsdr"] > self.best:
            with atomic_path(self.best_path) as temporary:
                shutil.copyfile(checkpoint_path, temporary)
        self.rows.append(row)
        with atomic_path(self.path) as temporary, open(temporary, "w", newline="") as f:
            writer = csv.DictWriter(f, list(row))
            writer.writeheader()
            writer.writerows(self.rows)


def read_training_log(out_dir: str | os.PathLike):
    """The training log as a pandas DataFrame (log.csv, or log.csv.gz as the shipped run's record keeps it)."""
    import pandas as pd

    path = Path(out_dir) / LOG_NAME
    return pd.read_csv(path if path.is_file() or not path.with_suffix(".csv.gz").is_file() else path.with_suffix(".csv.gz"))


def read_run_config(out_dir: str | os.PathLike) -> TrainConfig:
    """The configuration a run trained with (its config.json)."""
    return TrainConfig.from_dict(json.loads((Path(out_dir) / CONFIG_NAME).read_text()))


def read_validation_log(out_dir: str | os.PathLike):
    """The validation figures of a run as a pandas DataFrame (empty if it had no validation songs)."""
    import pandas as pd

    path = Path(out_dir) / VALIDATION_LOG_NAME
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=["step", "voice_gnsdr", "accompaniment_gnsdr"])
