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
* ``abs-ratio``: ratio masks that cannot saturate: |p_i| / Σ|p_j| for outputs p (their gradient falls as
  1/Σ|p|, not exponentially as a softmax's), each source its mask × 2 × the mixture as for ``ratio``.
The loss is the sum over stacks of the mean |estimate − reference| over the predicted sources (``l1``), or of
the mean |log(1 + k·estimate) − log(1 + k·reference)| (``log-l1``, k = LOG_COMPRESSION: magnitudes are
normalised by the clip's maximum, so typical bins of 0.01 land where the logarithm bends).
"""
from __future__ import annotations

import torch

TARGETS = {"masks": 2, "voice": 1, "accompaniment": 1, "direct": 2, "ratio": 2, "abs-ratio": 2}
RATIO_TARGETS = ("ratio", "abs-ratio")  # masks that sum to one; never clipped
SOURCES_PER_MIXTURE = 2  # the mixture is the mean of the two stems, whose sum a ratio target splits
LOSSES = ("l1", "log-l1")
LOG_COMPRESSION = 100.0
RATIO_EPSILON = 1e-6  # Σ|p| below this: both masks near 0


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
    if target == "abs-ratio":
        magnitude = prediction.abs()
        return magnitude / (magnitude.sum(dim=1, keepdim=True) + RATIO_EPSILON) * (SOURCES_PER_MIXTURE * mixture)
    return prediction * mixture


def clipped_at_zero(prediction: torch.Tensor, target: str) -> torch.Tensor:
    """The prediction as separation uses it: negative masks or magnitudes clipped at 0 (a ratio target's outputs
    are left as they are: its masks are never negative)."""
    return prediction if target in RATIO_TARGETS else prediction.clamp(min=0)


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


def check_loss(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, not {loss!r}")
    return loss


def stack_losses(predictions, mixture, accompaniment, voice, target: str, loss: str = "l1") -> list[torch.Tensor]:
    """One loss per stack; their sum is the training loss (intermediate supervision)."""
    compress = (lambda x: x) if check_loss(loss) == "l1" else (lambda x: torch.log1p(LOG_COMPRESSION * x.clamp(min=0)))
    reference = compress(reference_sources(accompaniment, voice, target))
    return [(compress(predicted_sources(p.float(), mixture, target)) - reference).abs().mean() for p in predictions]
