"""Activation probes: what each stack's prediction head does, recorded at every checkpoint of an arm's training.

The evidence for the direct-prediction question: one CSV per arm beside the experiment log
(``results/activations_<budget>/<arm>.csv``, see `experiments.activations_path`), so notebook 07 needs no run folders.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import index_clips
from .models import head_relu_input
from .profiles import TrainConfig
from .targets import clipped_at_zero, predicted_sources, reference_sources


def probe_heads(model: torch.nn.Module, mixture, accompaniment, voice, target: str) -> list[dict]:
    """What each stack's prediction head does on a fixed batch, per stack.

    As separation sees it (eval mode): the mean prediction, the fraction of predictions ≤ 0 (zero
    after a ReLU head or the clip at 0) and the mean estimate beside the mean reference.
    As training sees it (train mode; BatchNorm statistics are restored afterwards): the loss, the
    fraction of positive inputs to the head's ReLU (bn-relu heads only) and the norm of the loss
    gradient reaching the head's weights (0: the head has stopped learning).
    """
    was_training = model.training
    reference = reference_sources(accompaniment, voice, target)
    rows = []
    model.eval()
    with torch.no_grad():
        for i, prediction in enumerate(model(mixture)):
            rows.append({
                "stack": i + 1,
                "prediction_mean": float(prediction.mean()),
                "prediction_nonpositive_fraction": float((prediction <= 0).float().mean()),
                "estimate_mean": float(predicted_sources(clipped_at_zero(prediction, target), mixture, target).mean()),
                "reference_mean": float(reference.mean()),
            })

    buffers = {name: b.clone() for name, b in model.named_buffers()}
    relu_inputs, hooks = {}, []
    for i, head in enumerate(model.heads):
        relu_input = head_relu_input(head)
        if relu_input is not None:
            hooks.append(relu_input.register_forward_hook(
                lambda module, args, out, i=i: relu_inputs.__setitem__(i, out.detach())))
    model.train()
    model.zero_grad(set_to_none=True)
    try:
        losses = [(predicted_sources(p, mixture, target) - reference).abs().mean() for p in model(mixture)]
        sum(losses).backward()
        for i, row in enumerate(rows):
            weight = next(model.heads[i].parameters())
            row["loss"] = float(losses[i].detach())
            row["relu_input_positive_fraction"] = (float((relu_inputs[i] > 0).float().mean())
                                                   if i in relu_inputs else np.nan)
            row["head_gradient_norm"] = float(weight.grad.norm()) if weight.grad is not None else 0.0
    finally:
        for hook in hooks:
            hook.remove()
        model.zero_grad(set_to_none=True)
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
        model.train(was_training)
    return rows


class ActivationLog:
    """activations.csv: one probe_heads row per stack per checkpoint, on a fixed batch of training windows."""

    def __init__(self, path: Path, config: TrainConfig, data_root, windows: int = 8):
        from .dataset import SpectrogramSet

        self.path, self.target = path, config.target
        clips = index_clips(data_root, "train")[: config.max_train_clips]
        data = SpectrogramSet(clips, config.front_end, progress=False)
        draws = data.sampler("uniform", seed=12345).draws(0, windows)
        self.batch = data.batch(draws)

    def __call__(self, step: int, model: torch.nn.Module) -> None:
        device = next(model.parameters()).device
        mixture, accompaniment, voice = (t.to(device) for t in self.batch)
        rows = probe_heads(model, mixture, accompaniment, voice, self.target)
        new = not self.path.is_file()
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, ["step"] + list(rows[0]))
            if new:
                writer.writeheader()
            writer.writerows({"step": step} | row for row in rows)


def read_activations(path: str | os.PathLike) -> pd.DataFrame:
    """An arm's head probes (see `experiments.activations_path`)."""
    return pd.read_csv(path)
