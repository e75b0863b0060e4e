"""Checkpoints: written atomically (temporary file + rename), read with weights_only=True.

torch is imported inside the functions, so that the error class is at hand where torch is not needed (int8
separation runs without it).
"""
from __future__ import annotations

import os
from pathlib import Path

from .paths import atomic_path


class CheckpointError(Exception):
    """A checkpoint that is missing, unreadable or of the wrong architecture."""


def save_atomic(payload: dict, path: str | os.PathLike) -> None:
    import torch

    with atomic_path(path) as temporary:
        torch.save(payload, temporary)


def read_checkpoint(path: str | os.PathLike) -> dict:
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        # TorchVersion is a str subclass that early checkpoints stored; allowing it runs no code.
        with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged or foreign file
        kind = "it holds more than tensors and plain data (refused: loading it could run code)" \
            if "global" in str(error).lower() else "not a PyTorch checkpoint, or damaged"
        raise CheckpointError(f"cannot read checkpoint {path}: {kind} ({type(error).__name__})") from None
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        raise CheckpointError(f"{path} is not an shsep checkpoint (no 'model' and 'config' entries)")
    return payload


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the network a checkpoint describes and load its weights (eval mode, float32)."""
    from .models import ModelConfig, build_model

    payload = read_checkpoint(path)
    model_config = ModelConfig(**payload["config"]["model"])
    model = build_model(model_config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["model"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit the architecture its config names ({model_config}): {first}") from None
    return model.to(device).eval(), payload["config"]


def export_weights(checkpoint: str | os.PathLike, destination: str | os.PathLike, half: bool = True) -> Path:
    """A small inference-only copy (weights in float16 + config), e.g. the model shipped in the repository."""
    payload = read_checkpoint(checkpoint)
    weights = {k: v.half() if half and v.is_floating_point() else v for k, v in payload["model"].items()}
    save_atomic({"model": weights, "config": payload["config"], "step": payload["step"]}, destination)
    return Path(destination)
