"""Named training profiles: the model, the recipe and the data they use.

* ``smoke``: a tiny network, a few steps on a handful of clips: tests, nbval, CI (well under 2 min).
* ``cpu``: the default without a GPU: the 2-hour CPU recipe (a recipe at the paper's level in 2 hours on 2 cores). Park's graph narrowed to 24 channels
  (its stem and every width scaled by 3/32: 6, 12, 12, 12, 24) with channels growing by 24 per pooling,
  2 stacks, after every pooling a residual dense layer across frequency (``dense_frequency_bins``: +0.47 / +0.31
  dB on validation; +1.7 % parameters, about 1.09x the step time), 1.44 M parameters, ratio masks |p_i| / Σ|p_j|
  (``targets``: ``abs-ratio``, +0.2 / +0.4 dB over Park's masks on validation); 12500 steps of 8 windows, half of them remixes (the voice of one training
  clip, the accompaniment of another, gains 0.25-1.25; a quarter of those with the voice shifted by -4, -2, +2
  or +4 semitones), the last stack's loss plus a multi-resolution spectral loss of its estimates resynthesised
  with the mixture's phase (``resolution_loss`` 1, +0.24 dB on validation, about 1.15x the training time),
  Adam 1e-3 with a 500-step warm-up and cosine decay,
  an exponential moving average of the weights (0.999), bf16 autocast where a start-up probe finds it faster
  (about 2x on CPUs with AVX-512-BF16 or AMX). Seed 1 (initial weights and windows): the seed the screening of
  initial weights chose, and the better of the two seeds' windows on the validation songs (README).
  ``--init-trials 4`` screens 4 initial weights for ``trial_steps`` each instead. Every choice above was made
  with two whole songs (15 training clips, ``VALIDATION_SONGS``) held out; the profile is that recipe's refit on
  all 175 training clips, keeping the last step (the best checkpoint in 6 of its 7 validated runs).
  ``shsep train --hold-out abjones_5 amy_14`` holds them out again, to compare a change on them. About 86
  minutes of training on 2 cores of an Intel Xeon with AMX (bf16; about 100 on a Zen 4 EPYC before the
  spectral loss and the dense layers); in fp32 (CPUs without native bf16) about 3 hours,
  where ``--time-budget 2h`` trains the steps that fit instead: where they are under half the recipe's, the
  network of 16 channels +16 per pooling (0.63 M parameters, ``budget_model``) for the steps it fits, which
  scored higher on the validation songs than the 24-channel network at the same training compute (two seeds a
  side, +0.67 / +0.52 dB in their means); it trains without the spectral loss (``budget_resolution_loss``), the
  recipe it was validated with, with the dense layers across frequency (0.66 M parameters: two seeds a side
  at the same training compute, +0.46 dB in the mean of their validation means) and with batches of 4 windows
  (``budget_batch_size``; twice the steps of 8 at the same FLOPs: +0.45 dB in the mean of two seeds' validation
  means; its warm-up kept at as many windows; docs/recipe_search.md).
* ``songs``: the ``cpu`` recipe without the dense layers across frequency (1.42 M parameters; its budget network
  without them too, with the same batches of 4), the shipped model for produced songs (``shsep separate``'s
  default): 0.4 dB behind ``cpu`` on MIR-1K validation, ahead of it on vocals on the development songs in each
  of three comparisons (docs/real_songs.md).
* ``cpu-park-recipe``: the same network on Park's recipe (5000 steps of 4 real windows, ×0.2 at 80%), the
  shipped model before the recipe; per step of 4 patches on 2 cores: 24 ch +24 growth 0.53 s; 32 ch +0
  0.58 s (0.27 M params); 32 ch +16 0.78 s; 32 ch +32 1.22 s; Park's full model about 80 s.
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
    loss: str = "l1"  # "l1" on magnitudes (Park's) or "log-l1" on log-compressed magnitudes (`shsep.targets`)
    resolution_loss: float = 0.0  # > 0: plus this weight × the multi-resolution loss of the last stack's estimates,
    # resynthesised with the mixture's phase (`shsep.resolution_loss`); needs the remix pipeline (remix > 0)
    early_stack_weight: float = 1.0  # the weight of each stack's loss but the last's in the sum (intermediate
    # supervision): 1 weighs every stack alike, as Park does; 0 trains the last stack's estimates alone
    sampler: str = "clip-then-start"
    steps: int = 15000
    batch_size: int = 4
    learning_rate: float = 1e-4
    decay_step: int = 12000
    decay_factor: float = 0.2
    seed: int = 0  # the order and remixes of the training windows (and the initial weights, unless init_seed)
    init_seed: int | None = None  # the initial weights' seed; None: seed
    init_trials: int = 1  # > 1: start this many initial weights (seeds init_seed, +1, ...) on the same windows,
    trial_steps: int = 0  # train each this many steps, and continue the one with the lowest training loss
    max_train_clips: int | None = None  # None: all training clips
    checkpoint_every: int = 500
    # The 2-hour CPU recipe's levers (defaults: off, Park's recipe)
    remix: float = 0.0  # probability that a training window is a remix of two clips' stems (`TrainingBatches`)
    remix_gains: tuple = (0.25, 1.25)  # each remixed source's gain is uniform in this range
    voice_shift: float = 0.0  # probability that a remix's voice is a copy shifted by one of voice_shifts
    voice_shifts: tuple = (-4.0, -2.0, 2.0, 4.0)  # semitones (`dataset.shift_by_resampling`)
    voice_formants: float = 1.0  # share of a voice shift its formants follow: 1 together with the pitch (resampling),
    # 0 kept where they were (the spectral envelope moved back, `dataset.move_formants`)
    equaliser_db: float = 0.0  # > 0: each remixed source gets a random EQ of up to this many dB
    reverb: float = 0.0  # probability that a remix's voice is sung in a random room (`dataset.random_reverb`)
    compression: float = 0.0  # probability that a remix's voice is compressed (`dataset.random_compressor`)
    accompaniment_shift: float = 0.0  # probability that a remix's accompaniment is a copy shifted by one of
    accompaniment_shifts: tuple = (-2.0, -1.0, 1.0, 2.0)  # these semitones (resampling: key and tempo together)
    accompaniment_layers: float = 0.0  # probability that a remix's accompaniment is two clips' accompaniments summed
    # (a denser backing, the voice quieter against it, as in produced songs)
    validation_songs: tuple = ()  # whole training songs ('amy_14') or singers ('abjones') held out; scored at checkpoints
    schedule: str = "step"  # "step": ×decay_factor every decay_step steps; "cosine": warm-up, then cosine to 0
    warmup_steps: int = 0
    ema_decay: float = 0.0  # > 0: separate with an exponential moving average of the weights
    precision: str = "fp32"  # on CPU: "fp32", "bf16" or "auto" (bf16 autocast if a start-up probe finds it faster)
    short_patches: float = 0.0  # share of the steps, from the first, trained on windows of half the frames
    # (`train.step.window_frames_at`): cheaper steps while the network learns; separation keeps the full windows
    time_budget: float = 0.0  # > 0: seconds of training; `steps` becomes what fits, timed at start (`train`)
    budget_model: ModelConfig | None = None  # a cheaper network a time budget trains instead where it buys too few
    # steps of `model` (`train.budget.NARROW_BELOW`); None: always `model`
    budget_resolution_loss: float | None = None  # the resolution_loss budget_model trains with; None: the same
    budget_batch_size: int | None = None  # the batch_size budget_model trains with (its warm-up kept in windows);
    # None: the same

    def to_dict(self) -> dict:
        return asdict(self)

    def augmentation(self) -> dict:
        """The training-data levers, as `dataset.TrainingBatches` takes them."""
        return {name: getattr(self, name) for name in AUGMENTATION_FIELDS}

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        values = dict(values)
        values["model"] = ModelConfig(**values["model"])
        if values.get("budget_model"):
            values["budget_model"] = ModelConfig(**values["budget_model"])
        values["front_end"] = FrontEnd(**values.get("front_end", {}))  # checkpoints before it was recorded: Park's
        for name in values:  # JSON turns tuples into lists: the fields whose default is a tuple get theirs back
            if isinstance(getattr(cls, name, None), tuple):
                values[name] = tuple(values[name])
        return cls(**values)


# The training-data levers (`dataset.TrainingBatches`). A new lever is a field of TrainConfig, a name here, its
# code in `TrainingBatches` and an option of `shsep train` (`cli_args`); the CLI, the loop and the experiment log
# read this list. LOGGED_LEVERS, its scalars (each off at its default), are what the log records and compares
# recipes by; the tuples (the remixes' gain range, the semitone shifts) parameterise them, and the log keeps the
# shifts too, as text (`shifts_text`).
AUGMENTATION_FIELDS = ("remix", "remix_gains", "voice_shift", "voice_shifts", "voice_formants", "equaliser_db",
                       "reverb", "compression", "accompaniment_shift", "accompaniment_shifts", "accompaniment_layers")
LOGGED_LEVERS = tuple(name for name in AUGMENTATION_FIELDS if not isinstance(getattr(TrainConfig, name), tuple))
# The training choices beside the data levers that the log records and compares recipes by, each off at its
# default: short patches early, the spectral loss's weight, the earlier stacks' weight in the loss. A new one is a
# field of TrainConfig, a name here and an option of `shsep train` (`cli_args`, `cli.TRAIN_OVERRIDES`).
LOGGED_TRAINING_CHOICES = ("short_patches", "resolution_loss", "early_stack_weight")


def shifts_text(semitones: tuple) -> str:
    """The voice shifts as the experiment log writes them: "-4 -2 +2 +4"."""
    return " ".join(f"{s:+g}" if s else "0" for s in semitones)


# Two whole training songs, one per singer (15 clips), held out to choose recipes and checkpoints: never test clips.
VALIDATION_SONGS = ("abjones_5", "amy_14")

# The cpu profile's recipe; the songs profile is the same without the dense layers across frequency.
CPU_RECIPE = TrainConfig(
    model=ModelConfig("park", channels=24, stacks=2, depth=4, growth=24, dense_frequency_bins=512),
    target="abs-ratio", steps=12500, batch_size=8, learning_rate=1e-3, schedule="cosine", warmup_steps=500,
    remix=0.5, voice_shift=0.25, resolution_loss=1.0, ema_decay=0.999, precision="auto",
    checkpoint_every=1000, seed=1, init_trials=1, trial_steps=1000,
    budget_model=ModelConfig("park", channels=16, stacks=2, depth=4, growth=16, dense_frequency_bins=512),
    budget_resolution_loss=0.0,  # the narrow network was validated without the spectral loss
    budget_batch_size=4)  # and with batches of 4: twice the updates for the same compute (docs/recipe_search.md)

PROFILES: dict[str, TrainConfig] = {
    "smoke": TrainConfig(model=ModelConfig("park", channels=8, stacks=2, depth=2, growth=0),
                         steps=20, learning_rate=1e-3, decay_step=16, max_train_clips=4, checkpoint_every=10),
    "cpu": CPU_RECIPE,
    "songs": replace(CPU_RECIPE, model=replace(CPU_RECIPE.model, dense_frequency_bins=0),
                     budget_model=replace(CPU_RECIPE.budget_model, dense_frequency_bins=0)),
    "cpu-park-recipe": TrainConfig(model=ModelConfig("park", channels=24, stacks=2, depth=4, growth=24),
                                   steps=5000, learning_rate=1e-3, decay_step=4000),
    "ablation": TrainConfig(model=ModelConfig("park", channels=16, stacks=2, depth=4, growth=16),
                            steps=1000, learning_rate=1e-3, decay_step=800, checkpoint_every=100),
    "paper": TrainConfig(model=ModelConfig("park", channels=256, stacks=4, depth=4, growth=0)),
    "paper-growing": TrainConfig(model=ModelConfig("report", channels=64, stacks=4, depth=4, growth=64)),
}


def initial_weights_seed(config: TrainConfig) -> int:
    """The seed the initial weights are drawn with (init_seed, else seed)."""
    return config.seed if config.init_seed is None else config.init_seed


def get_profile(name: str, **overrides) -> TrainConfig:
    """A profile by name, with field overrides (model fields may be given by name too)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return with_overrides(PROFILES[name], **overrides)


# The model fields that say how a network reads its input rather than which network it is: given by hand, they apply
# to the profile's network and to its time budget's narrower one alike, and leave the budget's choice between them.
INPUT_FIELDS = ("input_power",)


def with_overrides(config: TrainConfig, **overrides) -> TrainConfig:
    """config with fields replaced; model fields may be given by name, a target sets the model's outputs, and
    sample_rate the front end's rate (its STFT sizes kept)."""
    if "sample_rate" in overrides:
        overrides["front_end"] = replace(overrides.get("front_end", config.front_end),
                                         sample_rate=int(overrides.pop("sample_rate")))
    model_fields = {k: overrides.pop(k) for k in list(overrides) if k in ModelConfig.__dataclass_fields__}
    reading = {k: v for k, v in model_fields.items() if k in INPUT_FIELDS}
    if reading and config.budget_model is not None:  # how the network reads its input: either network
        config = replace(config, budget_model=replace(config.budget_model, **reading))
    if set(model_fields) - set(INPUT_FIELDS) and "budget_model" not in overrides:  # a network chosen by hand is trained
        config = replace(config, budget_model=None)
    if "resolution_loss" in overrides and "budget_resolution_loss" not in overrides:  # so is a loss chosen by hand
        config = replace(config, budget_resolution_loss=None)
    if "batch_size" in overrides and "budget_batch_size" not in overrides:  # and a batch size chosen by hand
        config = replace(config, budget_batch_size=None)
    if "target" in overrides:
        from .targets import num_outputs

        model_fields["outputs"] = num_outputs(overrides["target"])
        if config.budget_model is not None:
            config = replace(config, budget_model=replace(config.budget_model, outputs=model_fields["outputs"]))
    if model_fields:
        config = replace(config, model=replace(config.model, **model_fields))
    return replace(config, **overrides)


def default_profile() -> str:
    import torch

    return "paper" if torch.cuda.is_available() else "cpu"

