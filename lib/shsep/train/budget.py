"""A time budget (``shsep train --time-budget 2h``): time the steps on this machine at the start, train what fits.

The timing runs on copies of the model, so the run's weights and windows are untouched; the steps it decides are
written to the run's config.json and kept on resume. The same timing gives every long run its estimate.

Where the budget buys fewer than NARROW_BELOW of the profile's steps (a CPU without native bf16 trains the `cpu`
profile in fp32 at about half the speed), a profile with a `budget_model` trains that cheaper network instead, for
the steps its own timing buys: at the same training compute a narrower network for more steps scored higher.

Twenty timed steps are a small sample: on a 2-core AVX2 EPYC they ran 10 % slower than the run that followed, and
17 of the 120 minutes went unspent. So a long run fits its steps once more (`refit_to_pace`) at its first checkpoint
after its warm-up, from its own pace so far (wall clock, checkpoints and validation included). The learning rate
up to there does not depend on the run's length (a warm-up, or a staircase before its first decay), so the run is
the one told those steps from the start.
"""
from __future__ import annotations

import copy
import time
from dataclasses import replace

import torch
import torch.distributed as dist

from ..profiles import TrainConfig
from .step import WeightAverage, cropped, short_window_frames, training_step

# Of a time budget, the share the timed steps may fill. The rest covers the validation passes (about 3 % of the cpu
# profile's 2 hours) and speed drift (in a 10-minute cpu-profile run the timed steps ran 3 % faster than the
# run's average), so that the wall clock, validation included, stays inside the budget.
BUDGET_SHARE = 0.93
TIMED_STEPS = 20  # training steps timed, after 3 untimed ones, to fit a time budget
# set at a run's start (the steps again at its refit), kept on resume
BUDGET_DECIDES = ("steps", "decay_step", "model", "resolution_loss", "batch_size", "warmup_steps")
# The share of the budget a run's refit fills (`refit_to_pace`): its pace already holds checkpoints and validation,
# so only drift is left to cover (a few per cent either way in two 2-hour AVX2 runs: 6 % faster late than early in
# one, 2 % slower after the refit in the other).
REFIT_SHARE = 0.97
REFIT_FROM_STEPS = 1000  # runs decided with fewer steps keep their timed steps (too short for a second measure)
REFIT_AFTER = 0.05  # the refit waits for the warm-up's end and at least this share of the steps (`refit_step`)
# Below this share of the profile's steps, the profile's budget_model is trained instead. Measured at about a third
# of the `cpu` recipe's steps (docs/recipe_search.md, *On a CPU without native bf16*); at the full recipe the
# profile's own network was chosen. Half is the judgement between the two.
NARROW_BELOW = 0.5


def time_training_steps(model, batch_at, autocast, config: TrainConfig, count: int = TIMED_STEPS) -> float:
    """Seconds per training step of `config` on this machine, on average over the run: `count` steps (after 3
    untimed ones) of forward, backward, Adam and the weight average, on copies of the model, so that the run's
    weights and windows are untouched; with short_patches, the steps on half windows timed too and weighted by
    their share. batch_at(k) gives the k-th batch, autocast the precision's context."""
    whole = _seconds_per_step(model, batch_at, autocast, config, count, None)
    if not config.short_patches:
        return whole
    half = _seconds_per_step(model, batch_at, autocast, config, count, short_window_frames(config))
    return config.short_patches * half + (1 - config.short_patches) * whole


def _seconds_per_step(model, batch_at, autocast, config: TrainConfig, count: int, frames: int | None) -> float:
    """Seconds per training step on windows of `frames` frames (None: whole), timed on a copy of the model."""
    model = copy.deepcopy(model).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay else None
    started = None
    for k in range(count + 3):
        if k == 3:
            started = time.perf_counter()
        training_step(model, model, optimizer, average, cropped(batch_at(k), frames), autocast, config)
    return (time.perf_counter() - started) / count


def steps_within_budget(config: TrainConfig, seconds_per_step: float, seconds_spent: float = 0.0) -> int:
    """The steps config.time_budget pays for at seconds_per_step: BUDGET_SHARE of the budget, less what was
    already spent, less the losing trials' steps of an init_trials screening (their time counts too)."""
    return _enough(config, _affordable(config, seconds_per_step, seconds_spent), seconds_per_step)


def _enough(config: TrainConfig, steps: int, seconds_per_step: float) -> int:
    """steps, refused with a clear error where they cannot make the recipe's run (warm-up, trials, a checkpoint)."""
    least = max(config.warmup_steps, config.trial_steps if config.init_trials > 1 else 0, config.checkpoint_every, 1)
    if steps <= least:
        raise ValueError(f"a time budget of {config.time_budget:g} s pays for {max(steps, 0)} steps at "
                         f"{seconds_per_step:.3f} s per step on this machine; this recipe needs more than {least} "
                         "(warm-up, trials, one checkpoint): give it more time or choose a smaller profile")
    return steps


def fit_to_budget(config: TrainConfig, model, batch_at, autocast, rank: int, world: int, build, batches):
    """Time the training steps; return (config with the network and steps its time budget pays for, seconds per
    step). The timing counts against the budget. Under torchrun the main process's figure decides (its own steps,
    without the gradients' exchange). Warm-up stays as long; a staircase's decay step moves with the run.
    build(model_config) gives a network placed like `model`, to time config.budget_model where the budget buys
    fewer than NARROW_BELOW of the profile's steps, with the profile's budget_resolution_loss and budget_batch_size
    (where it has them; batches(config) gives that config's batch_at)."""
    started = time.perf_counter()
    decided = [None, None, False]  # steps, seconds per step, whether the cheaper network (`budget_recipe`) trains
    if rank == 0:
        seconds_per_step = time_training_steps(model, batch_at, autocast, config)
        steps = _affordable(config, seconds_per_step, time.perf_counter() - started)
        print(f"time budget {config.time_budget:g} s: {seconds_per_step:.3f} s per step here, so {max(steps, 0)} steps",
              end="")
        narrow = config.budget_model
        if narrow is not None and narrow != config.model and steps < NARROW_BELOW * config.steps:
            print(f", under {NARROW_BELOW:.0%} of the profile's {config.steps}: its cheaper network instead "
                  f"({narrow.channels} channels +{narrow.growth} per pooling"
                  f"{', dense layers across frequency' if narrow.dense_frequency_bins else ''})")
            cheaper = budget_recipe(config)
            seconds_per_step = time_training_steps(build(narrow), batches(cheaper), autocast, cheaper)
            steps = steps_within_budget(cheaper, seconds_per_step, time.perf_counter() - started)
            windows = f"{cheaper.batch_size} window{'s' * (cheaper.batch_size != 1)}"
            print(f"time budget {config.time_budget:g} s: {seconds_per_step:.3f} s per step of {windows} of that "
                  f"network, so {steps} steps", end="")
            decided[2] = True
        else:
            steps = _enough(config, steps, seconds_per_step)
        print(" (the profile's schedule stretched to them)")
        decided[:2] = [steps, seconds_per_step]
    if world > 1:
        dist.broadcast_object_list(decided, src=0)
    steps, seconds_per_step, cheaper_chosen = decided
    return _with_steps(budget_recipe(config) if cheaper_chosen else config, steps), seconds_per_step


def budget_recipe(config: TrainConfig) -> TrainConfig:
    """config as its budget_model trains: that network, with budget_resolution_loss and budget_batch_size where
    the profile sets them, and the warm-up as many windows as the profile's (steps scaled by the batch ratio)."""
    loss = config.resolution_loss if config.budget_resolution_loss is None else config.budget_resolution_loss
    batch_size = config.batch_size if config.budget_batch_size is None else config.budget_batch_size
    warmup_steps = round(config.warmup_steps * config.batch_size / batch_size)
    return replace(config, model=config.budget_model, resolution_loss=loss, batch_size=batch_size,
                   warmup_steps=warmup_steps)


def _affordable(config: TrainConfig, seconds_per_step: float, seconds_spent: float) -> int:
    """The run's steps the budget pays for, before `steps_within_budget` checks that they make a run: a budget too
    short for the profile's network may still fit a cheaper one."""
    affordable = int((config.time_budget * BUDGET_SHARE - seconds_spent) / seconds_per_step)
    return affordable - (config.init_trials - 1) * config.trial_steps


def refit_step(config: TrainConfig) -> int | None:
    """The step at which a time budget's run fits its steps to its own pace: the first checkpoint at or after the
    warm-up's end and REFIT_AFTER of the steps, so that the pace holds a checkpoint (and validation) pass; None
    where the run is too short for it (REFIT_FROM_STEPS, or no such checkpoint before its last step) or screens
    initial weights (whose trials' pace is not the run's)."""
    if not config.time_budget or config.steps < REFIT_FROM_STEPS or config.init_trials > 1:
        return None
    earliest = max(config.warmup_steps, round(REFIT_AFTER * config.steps), 1)
    step = -(-earliest // config.checkpoint_every) * config.checkpoint_every
    return step if step < config.steps else None


def steps_at_pace(config: TrainConfig, step: int, seconds_training: float, seconds_spent: float) -> int:
    """The steps REFIT_SHARE of config.time_budget pays for, `step` of them done: the rest of the budget (it has
    spent seconds_spent since its timing began) at the run's pace, step / seconds_training (wall clock since the
    first step, checkpoints and validation included). At least one more step."""
    seconds_left = config.time_budget * REFIT_SHARE - seconds_spent
    return step + max(1, int(seconds_left * step / seconds_training))


def refit_to_pace(config: TrainConfig, step: int, seconds_training: float, seconds_spent: float, rank: int,
                  world: int) -> TrainConfig:
    """config with the steps `steps_at_pace` gives (the main process's figure under torchrun); a staircase's
    decay step moves with them."""
    decided = [None]
    if rank == 0:
        decided[0] = steps_at_pace(config, step, seconds_training, seconds_spent)
        print(f"time budget {config.time_budget:g} s: {seconds_training / step:.3f} s per step over the run's first "
              f"{step} steps, checkpoints and validation included, so {decided[0]} steps in all "
              f"(timed at the start: {config.steps})", flush=True)
    if world > 1:
        dist.broadcast_object_list(decided, src=0)
    return _with_steps(config, decided[0])


def _with_steps(config: TrainConfig, steps: int) -> TrainConfig:
    """config stretched or shrunk to `steps`: a staircase keeps its decay at the same place in the run (Park's ×0.2
    at 80 %); a cosine already ends at the last step."""
    if config.schedule == "step":
        config = replace(config, decay_step=max(1, round(config.decay_step * steps / config.steps)))
    return replace(config, steps=steps)
