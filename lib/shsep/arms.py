"""The ablation study's design: budgets (the recipe every arm shares) and arms (one change each to its base).

Every arm is the budget's base configuration with one change (``ARMS``): the base is Park's graph with
2 stacks, channels growing with depth, masks for both sources and the clip-then-start sampler.
``QUESTION_ARMS`` groups the arms by the question they answer. Running them: `experiments`; their log:
`experiment_log`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .data import index_clips
from .profiles import TrainConfig, get_profile, with_overrides


@dataclass(frozen=True)
class Budget:
    """The training recipe every arm shares, and how many test clips score each arm (None: all present)."""

    name: str
    base: TrainConfig
    eval_clips: int | None
    about: str


# Budget names say what they are (steps, where they run) and are not profile names; the notebook's profile picks one.
BUDGET_FOR_PROFILE = {"smoke": "ci-20", "cpu": "cpu-1000", "paper": "gpu-15000", "paper-growing": "gpu-15000"}
BUDGETS = {
    "ci-20": Budget("ci-20", get_profile("smoke", growth=8, seed=0), 4,
                    "CI-sized: 8 channels +8, depth 2, 20 steps on 4 training clips, 4 test clips"),
    "cpu-1000": Budget("cpu-1000", get_profile("ablation"), 100,
                       "CPU-sized: 16 channels +16, depth 4, 1000 steps of 4 windows on all training clips, "
                       "scored on 100 test clips spread evenly over the present ones"),
    "gpu-15000": Budget("gpu-15000", get_profile("paper", channels=64, growth=64, stacks=2), None,
                        "GPU: Park's recipe (15000 steps, Adam 1e-4 ×0.2 at 12000) at the report's widths "
                        "(64 +64), all test clips"),
}
DEFAULT_BUDGET = "cpu-1000"
RECIPE_BUDGET = "recipe"  # the log's rows for whole training recipes (a profile's run), beside the ablation budgets
# rows for candidates of the CPU recipe trained side by side on a lent GPU (scripts/gpu_sweep.py): validation only
SWEEP_BUDGET = "gpu-sweep"
SCREENING_BUDGET = "screening"  # short validated runs that compare one lever, never scored on the test split


@dataclass(frozen=True)
class Arm:
    """One experiment: a name, the question it answers and its change to the budget's base config.

    Values in `changes` may be callables of the base ModelConfig (e.g. twice its channels).
    """

    name: str
    question: str
    change: str
    changes: dict = field(default_factory=dict)

    def config(self, budget: Budget) -> TrainConfig:
        values = {k: v(budget.base.model) if callable(v) else v for k, v in self.changes.items()}
        return with_overrides(budget.base, **values)


ARMS = [
    Arm("base", "all", "2 stacks, growing channels, masks for both sources, clip-then-start"),
    Arm("stacks-1", "stacks", "1 stack", {"stacks": 1}),
    Arm("stacks-4", "stacks", "4 stacks", {"stacks": 4}),
    Arm("constant", "channels", "constant channels (no growth): same full-resolution width",
        {"growth": 0}),
    Arm("constant-wide", "channels", "constant channels at twice the width (about twice the compute of base)",
        {"growth": 0, "channels": lambda model: 2 * model.channels}),
    Arm("voice-only", "targets", "one voice mask; accompaniment = mixture − voice", {"target": "voice"}),
    Arm("accompaniment-only", "targets", "one accompaniment mask; voice = mixture − accompaniment",
        {"target": "accompaniment"}),
    Arm("direct-report-head", "direct", "predict magnitudes directly, through the report's BatchNorm+ReLU head",
        {"target": "direct", "head": "bn-relu"}),
    Arm("direct-linear-head", "direct", "predict magnitudes directly, through Park's linear head",
        {"target": "direct", "head": "linear"}),
    Arm("masks-report-head", "direct", "masks through the report's BatchNorm+ReLU head (control)",
        {"head": "bn-relu"}),
    Arm("uniform-sampler", "samplers", "uniform over all (clip, start) windows", {"sampler": "uniform"}),
    Arm("base-seed1", "noise", "base with seed 1: run-to-run spread", {"seed": 1}),
    Arm("base-seed2", "noise", "base with seed 2: run-to-run spread", {"seed": 2}),
    Arm("direct-linear-head-seed1", "direct", "direct-linear-head with seed 1: does its result hold?",
        {"target": "direct", "head": "linear", "seed": 1}),
]
ARMS_BY_NAME = {arm.name: arm for arm in ARMS}


def evaluation_clips(budget: Budget, data_root=None) -> list[str]:
    """The test clips that score every arm: `eval_clips` of them, evenly spaced over the present test clips."""
    clips = [c.id for c in index_clips(data_root, "test")]
    if budget.eval_clips is None or budget.eval_clips >= len(clips):
        return clips
    positions = np.linspace(0, len(clips) - 1, budget.eval_clips).round().astype(int)
    return [clips[i] for i in positions]


QUESTION_ARMS = {
    "stacks": ["stacks-1", "base", "stacks-4"],
    "channels": ["constant", "base", "constant-wide"],
    "targets": ["base", "voice-only", "accompaniment-only"],
    "direct": ["base", "masks-report-head", "direct-report-head", "direct-linear-head", "direct-linear-head-seed1"],
    "samplers": ["base", "uniform-sampler"],
    "noise": ["base", "base-seed1", "base-seed2"],
}


def check_budget(budget: str) -> "Budget":
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {tuple(BUDGETS)}, not {budget!r}")
    return BUDGETS[budget]
