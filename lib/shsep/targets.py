"""What the network predicts, how its prediction becomes source estimates, and the training loss.

Targets (source order is Park's: accompaniment, voice):
* ``masks``: two masks, one per source (Park's default).
* ``voice``: one voice mask; accompaniment = mixture − voice estimate (the report's n−1 outputs).
* ``accompaniment``: one accompaniment mask; voice = mixture − accompaniment estimate.
* ``direct``: the two source magnitudes themselves (the report's failed experiment).
* ``ratio``: two ratio masks that sum to one, a softmax over the two outputs (for two sources, a sigmoid of
  their difference): the soft-mask post-filter built into the training, so the two estimates add up to the
  stems' sum.
  The references are the stems as recorded and the mixture is their mean (Park's mono mix of MIR-1K's two
  channels), so each source is its mask × 2 × the mixture. At the `cpu` recipe (Adam 1e-3, no normalisation
  layers) the last stack's softmax saturated within 1000 steps and stopped learning (README); kept as a
  measured failure, like ``direct`` without a linear head.
The loss is the sum over stacks of the mean |estimate − reference| over the predicted sources.
"""
from __future__ import annotations

import torch

TARGETS = {"masks": 2, "voice": 1, "accompaniment": 1, "direct": 2, "ratio": 2}
SOURCES_PER_MIXTURE = 2  # the mixture is the mean of the two stems, whose sum a ratio target splits


def num_outputs(target: str) -> int:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {tuple(TARGETS)}, not {target!r}")
    return TARGETS[target]


def predicted_sources(prediction: torch.Tensor, mixture: torch.Tensor, target: str) -> torch.Tensor:
    """Magnitudes of the sources the network predicts directly, (B, outputs, F, T); mixture is (B, 1, F, T)."""
    if target == "direct":
        return prediction
    if target == "ratio":
        return torch.softmax(prediction, dim=1) * (SOURCES_PER_MIXTURE * mixture)
    return prediction * mixture


def clipped_at_zero(prediction: torch.Tensor, target: str) -> torch.Tensor:
    """The prediction as separation uses it: negative masks or magnitudes clipped at 0 (a ratio target's logits
    are left as they are: its softmax masks are never negative)."""
    return prediction if target == "ratio" else prediction.clamp(min=0)


def estimate_sources(prediction: torch.Tensor, mixture: torch.Tensor, target: str, clip_at_zero: bool = True):
    """(accompaniment, voice) magnitude estimates (B, F, T) at separation time (negative masks clipped at 0;
    a ratio target's masks are never negative)."""
    if clip_at_zero:
        prediction = clipped_at_zero(prediction, target)
    estimates = predicted_sources(prediction, mixture, target)
    if num_outputs(target) == 2:
        return estimates[:, 0], estimates[:, 1]
    remainder = (mixture[:, 0] - estimates[:, 0]).clamp(min=0)
    return (estimates[:, 0], remainder) if target == "accompaniment" else (remainder, estimates[:, 0])


def reference_sources(accompaniment: torch.Tensor, voice: torch.Tensor, target: str) -> torch.Tensor:
    """The references for the predicted channels, (B, outputs, F, T)."""
    num_outputs(target)
    if target == "voice":
        return voice.unsqueeze(1)
    if target == "accompaniment":
        return accompaniment.unsqueeze(1)
    return torch.stack([accompaniment, voice], dim=1)


def stack_losses(predictions, mixture, accompaniment, voice, target: str) -> list[torch.Tensor]:
    """One L1 loss per stack; their sum is the training loss (intermediate supervision)."""
    reference = reference_sources(accompaniment, voice, target)
    return [(predicted_sources(p.float(), mixture, target) - reference).abs().mean() for p in predictions]
