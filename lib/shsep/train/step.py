"""One training step and what shapes it: the learning-rate schedule, the precision, the weights' average."""
from __future__ import annotations

import copy
import math
import time

import torch

from ..profiles import TrainConfig
from ..resolution_loss import MultiResolutionLoss
from ..targets import predicted_sources, stack_losses

TRAINING_PRECISIONS = ("fp32", "bf16", "auto")  # int8 is separation's alone (the ONNX export)


def learning_rate_at(step: int, config: TrainConfig) -> float:
    """"step": staircase decay, ×decay_factor every decay_step steps (Park's ×0.2 at 12000).
    "cosine": linear warm-up over warmup_steps, then half a cosine down to 0 at the last step."""
    if config.schedule == "step":
        return config.learning_rate * config.decay_factor ** (step // config.decay_step)
    if config.schedule == "cosine":
        if step < config.warmup_steps:
            return config.learning_rate * (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return config.learning_rate * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    raise ValueError(f"schedule must be 'step' or 'cosine', not {config.schedule!r}")


def short_window_frames(config: TrainConfig) -> int:
    """The frames of a short training window (`short_patches`): half the front end's patch."""
    return config.front_end.patch_frames // 2


def window_frames_at(step: int, config: TrainConfig) -> int | None:
    """The frames of step `step`'s training windows: `short_window_frames` during the first `short_patches` share
    of the steps (the hourglass is fully convolutional, so a shorter window is a cheaper step), else None: the
    whole patch."""
    if step < round(config.short_patches * config.steps):
        return short_window_frames(config)
    return None


def cropped(batch: tuple, frames: int | None) -> tuple:
    """A batch (mixture, accompaniment, voice[, complex stems]) cut to its first `frames` frames; None: unchanged."""
    if frames is None:
        return batch
    mixture, *rest = (t[..., :frames] for t in batch)
    memory_format = torch.channels_last if batch[0].is_contiguous(memory_format=torch.channels_last) else \
        torch.contiguous_format  # the loop's layout kept
    return (mixture.contiguous(memory_format=memory_format), *(t.contiguous() for t in rest))


def pick_precision(model, batch: torch.Tensor, requested: str, device: torch.device, tries: int = 3) -> str:
    """The precision to train in. On CUDA, bf16 autocast. On CPU, "auto" times `tries` forward/backward
    passes of the real model and batch in each, alternated after a warm-up pass of each, and takes bf16 only
    when its fastest pass is at least 1.15× faster than fp32's: CPUs with AVX-512-BF16 or AMX run it about 2×
    faster, others several times slower. The fastest pass, not the total, so that other work on the machine
    (an evaluation running beside it once made the total pick fp32) does not decide. Weights are untouched."""
    if requested not in TRAINING_PRECISIONS:
        raise ValueError(f"training precision must be one of {TRAINING_PRECISIONS}, not {requested!r}")
    if device.type == "cuda":
        return "bf16"
    if requested != "auto":
        return requested
    passes = {"fp32": [], "bf16": []}
    for round_ in range(tries + 1):  # round 0 warms up
        for precision in passes:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                started = time.perf_counter()
                sum(p.float().abs().mean() for p in model(batch)).backward()
            if round_:
                passes[precision].append(time.perf_counter() - started)
    model.zero_grad(set_to_none=True)
    return "bf16" if min(passes["fp32"]) >= 1.15 * min(passes["bf16"]) else "fp32"


class WeightAverage:
    """Exponential moving average of a model's weights (decay warmed up as min(decay, (1 + n) / (10 + n)))."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        self.model.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for average, current in zip(self.model.state_dict().values(), model.state_dict().values()):
            if average.dtype.is_floating_point:
                average.lerp_(current, 1 - decay)
            else:
                average.copy_(current)
        self.updates += 1


def weighted_sum(losses: list[torch.Tensor], early_stack_weight: float) -> torch.Tensor:
    """The training loss: the last stack's loss plus `early_stack_weight` × each earlier stack's."""
    return early_stack_weight * sum(losses[:-1]) + losses[-1]


def training_step(net, model, optimizer, average, batch, autocast, config: TrainConfig) -> list[torch.Tensor]:
    """One step: forward (net: the model, or its DistributedDataParallel wrapper) under autocast, the stacks'
    losses (with `resolution_loss`, the last stack's adds the multi-resolution loss, from the batch's fourth
    tensor, the complex stems), backward of their `weighted_sum`, Adam, the weight average; returns the stacks'
    losses, unweighted."""
    mixture, accompaniment, voice, *stems = batch
    with autocast:
        predictions = net(mixture)
    losses = stack_losses(predictions, mixture, accompaniment, voice, config.target, config.loss)
    if config.resolution_loss:
        estimates = predicted_sources(predictions[-1].float(), mixture, config.target)
        losses[-1] = losses[-1] + config.resolution_loss * \
            MultiResolutionLoss(stems[0], config.front_end).loss(estimates)
    optimizer.zero_grad(set_to_none=True)
    weighted_sum(losses, config.early_stack_weight).backward()
    optimizer.step()
    if average is not None:
        average.update(model)
    return losses
