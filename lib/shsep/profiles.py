"""Named training profiles: the model, the recipe and the data they use.

* ``smoke``: a tiny network, a few steps on a handful of clips: tests, nbval, CI (well under 2 min).
* ``cpu``: the default without a GPU. Park's graph, narrowed to 24 channels (its stem and every
  width scaled by 3/32: 6, 12, 12, 12, 24) with channels growing by 24 per pooling, 2 stacks;
  1.42 M parameters. Measured on 2 cores, channels-last, one step of 4 patches: 24 ch +24 growth
  0.53 s; 32 ch +0 0.58 s (0.27 M params); 32 ch +16 0.78 s; 32 ch +32 1.22 s; Park's full model
  about 80 s. The 24+24 net has the most parameters per second of the ones tried; 5000 steps
  take about 45 minutes. Adam 1e-3 (a small net trains faster at the report's rate), ×0.2 at
  80% of the steps as in Park's schedule (12000 / 15000).
* ``paper``: Park's exact configuration and recipe (GPU). ``paper-growing``: the report's
  network ("ours": 4 stacks, 64 channels growing by 64, BatchNorm), at Park's recipe.
* ``ablation``: the base of the experiment arms (``shsep.experiments``): Park's graph at 16 channels
  +16 per pooling, 2 stacks (0.63 M parameters), 1000 steps; about 0.3 s per step on 2 cores.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from .models import ModelConfig
from .spectrogram import FrontEnd


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    front_end: FrontEnd = field(default_factory=FrontEnd)  # what the network sees; default: Park's
    target: str = "masks"
    sampler: str = "clip-then-start"
    steps: int = 15000
    batch_size: int = 4
    learning_rate: float = 1e-4
    decay_step: int = 12000
    decay_factor: float = 0.2
    seed: int = 0
    max_train_clips: int | None = None  # None: all training clips
    checkpoint_every: int = 500

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        values = dict(values)
        values["model"] = ModelConfig(**values["model"])
        values["front_end"] = FrontEnd(**values.get("front_end", {}))  # checkpoints before it was recorded: Park's
        return cls(**values)


PROFILES: dict[str, TrainConfig] = {
    "smoke": TrainConfig(model=ModelConfig("park", channels=8, stacks=2, depth=2, growth=0),
                         steps=20, learning_rate=1e-3, decay_step=16, max_train_clips=4, checkpoint_every=10),
    "cpu": TrainConfig(model=ModelConfig("park", channels=24, stacks=2, depth=4, growth=24),
                       steps=5000, learning_rate=1e-3, decay_step=4000),
    "ablation": TrainConfig(model=ModelConfig("park", channels=16, stacks=2, depth=4, growth=16),
                            steps=1000, learning_rate=1e-3, decay_step=800, checkpoint_every=100),
    "paper": TrainConfig(model=ModelConfig("park", channels=256, stacks=4, depth=4, growth=0)),
    "paper-growing": TrainConfig(model=ModelConfig("report", channels=64, stacks=4, depth=4, growth=64)),
}


def get_profile(name: str, **overrides) -> TrainConfig:
    """A profile by name, with field overrides (model fields may be given by name too)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return with_overrides(PROFILES[name], **overrides)


def with_overrides(config: TrainConfig, **overrides) -> TrainConfig:
    """config with fields replaced; model fields may be given by name, and a target sets the model's outputs."""
    model_fields = {k: overrides.pop(k) for k in list(overrides) if k in ModelConfig.__dataclass_fields__}
    if "target" in overrides:
        from .targets import num_outputs

        model_fields["outputs"] = num_outputs(overrides["target"])
    if model_fields:
        config = replace(config, model=replace(config.model, **model_fields))
    return replace(config, **overrides)


def default_profile() -> str:
    import torch

    return "paper" if torch.cuda.is_available() else "cpu"

