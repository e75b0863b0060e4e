"""Training loop (nanoGPT-sized): intermediate supervision, step decay, atomic checkpoints, exact resume.

Run it as ``shsep train --profile cpu --out runs/cpu``; under ``torchrun --nproc-per-node N``
the same code trains with DistributedDataParallel (gloo on CPU, NCCL on GPUs), each process
drawing its own windows so the global batch is N × batch_size. ``--time-budget 2h`` (config.time_budget) times
the steps on the machine at the start and trains the steps that fit, the schedule stretched to them.
"""
from __future__ import annotations

import copy
import csv
import json
import math
import os
import shutil
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist

from .checkpoints import read_checkpoint, save_atomic
from .data import index_clips, split_validation
from .dataset import TrainingBatches
from .models import build_model, count_parameters
from .paths import atomic_path
from .separate import PRECISIONS
from .profiles import TrainConfig, initial_weights_seed
from .targets import check_loss, num_outputs, stack_losses

CHECKPOINT_NAME = "checkpoint.pt"
BEST_NAME = "best.pt"  # the checkpoint with the best validation figure (runs with validation songs)
LOG_NAME = "log.csv"
VALIDATION_LOG_NAME = "validation.csv"
RUN_INFO_NAME = "run.json"
TRIALS_DIR = "trials"  # with init_trials > 1: one run folder per initial weights tried
TRIALS_NAME = "trials.csv"  # their losses, and which one the run continued


def pick_device(requested: str | None = None) -> torch.device:
    if requested:
        return torch.device(requested)
    if dist.is_available() and dist.is_initialized() and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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


def pick_precision(model, batch: torch.Tensor, requested: str, device: torch.device, tries: int = 3) -> str:
    """The precision to train in. On CUDA, bf16 autocast. On CPU, "auto" times `tries` forward/backward
    passes of the real model and batch in each, alternated after a warm-up pass of each, and takes bf16 only
    when its fastest pass is at least 1.15× faster than fp32's: CPUs with AVX-512-BF16 or AMX run it about 2×
    faster, others several times slower. The fastest pass, not the total, so that other work on the machine
    (an evaluation running beside it once made the total pick fp32) does not decide. Weights are untouched."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {requested!r}")
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


# Of a time budget, the share the timed steps may fill. The rest covers the validation passes (about 3 % of the cpu
# profile's 2 hours) and speed drift (in a 10-minute cpu-profile run the timed steps ran 3 % faster than the
# run's average), so that the wall clock, validation included, stays inside the budget.
BUDGET_SHARE = 0.93
TIMED_STEPS = 20  # training steps timed, after 3 untimed ones, to fit a time budget
BUDGET_DECIDES = ("steps", "decay_step")  # the fields a time budget sets at a run's start (kept on resume)


def time_training_steps(model, batch_at, autocast, config: TrainConfig, count: int = TIMED_STEPS) -> float:
    """Seconds per training step of `config` on this machine: `count` steps (after 3 untimed ones) of forward,
    backward, Adam and the weight average, on copies of the model, so that the run's weights and windows are
    untouched. batch_at(k) gives the k-th batch, autocast the precision's context."""
    model = copy.deepcopy(model).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay else None
    started = None
    for k in range(count + 3):
        if k == 3:
            started = time.perf_counter()
        training_step(model, model, optimizer, average, batch_at(k), autocast, config)
    return (time.perf_counter() - started) / count


def training_step(net, model, optimizer, average, batch, autocast, config: TrainConfig) -> list[torch.Tensor]:
    """One step: forward (net: the model, or its DistributedDataParallel wrapper) under autocast, the stacks'
    losses, backward, Adam, the weight average; returns the stacks' losses."""
    mixture, accompaniment, voice = batch
    with autocast:
        predictions = net(mixture)
    losses = stack_losses(predictions, mixture, accompaniment, voice, config.target, config.loss)
    optimizer.zero_grad(set_to_none=True)
    sum(losses).backward()
    optimizer.step()
    if average is not None:
        average.update(model)
    return losses


def steps_within_budget(config: TrainConfig, seconds_per_step: float, seconds_spent: float = 0.0) -> int:
    """The steps config.time_budget pays for at seconds_per_step: BUDGET_SHARE of the budget, less what was
    already spent, less the losing trials' steps of an init_trials screening (their time counts too)."""
    affordable = int((config.time_budget * BUDGET_SHARE - seconds_spent) / seconds_per_step)
    steps = affordable - (config.init_trials - 1) * config.trial_steps
    least = max(config.warmup_steps, config.trial_steps if config.init_trials > 1 else 0, config.checkpoint_every, 1)
    if steps <= least:
        raise ValueError(f"a time budget of {config.time_budget:g} s pays for {max(steps, 0)} steps at "
                         f"{seconds_per_step:.3f} s per step on this machine; this recipe needs more than {least} "
                         "(warm-up, trials, one checkpoint): give it more time or choose a smaller profile")
    return steps


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


def _distributed() -> tuple[int, int]:
    """Initialise the process group when launched by torchrun; return (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def train(config: TrainConfig, out_dir: str | os.PathLike, data_root=None, resume: bool = False,
          device: str | None = None, progress: bool = True, stop_after: int | None = None,
          on_checkpoint=None, validate: bool = True) -> Path:
    """Train `config`, writing ``checkpoint.pt`` (latest, atomic), ``log.csv`` and ``config.json`` to out_dir.

    resume=True continues from out_dir's checkpoint. stop_after ends the run after that many steps
    in total (to simulate an interruption). on_checkpoint(step, model), if given, is called on the
    main process after every checkpoint (e.g. to record activations). Returns the checkpoint path.
    The log's ``seconds`` column is training time summed over resumes (and over the trials of init_trials).
    validate=False skips scoring the validation songs at checkpoints (they are still held out).

    With config.init_trials > 1, a fresh run first trains that many initial weights for config.trial_steps
    steps each, as runs of their own under out_dir/trials/ (on the same windows, so that their losses
    compare), and continues the one with the lowest training loss over the second half of those steps.
    """
    check_loss(config.loss)
    if config.model.outputs != num_outputs(config.target):
        raise ValueError(f"target {config.target!r} needs {num_outputs(config.target)} outputs, "
                         f"the model config has {config.model.outputs}")
    if config.init_trials < 1:
        raise ValueError(f"init_trials must be at least 1 (1: no screening), not {config.init_trials}")
    if config.init_trials > 1 and not 0 < config.trial_steps <= config.steps:
        raise ValueError(f"screening {config.init_trials} initial weights needs trial_steps between 1 and the run's "
                         f"{config.steps} steps, not {config.trial_steps}")
    out_dir = Path(out_dir)
    rank, world = _distributed()
    main_process = rank == 0
    device = pick_device(device)
    checkpoint_path = out_dir / CHECKPOINT_NAME

    clips = index_clips(data_root, "train")
    clips, validation_clips = split_validation(clips, config.validation_songs)
    clips = clips[: config.max_train_clips]
    data = TrainingBatches(clips, config.front_end, config.sampler, config.seed, config.remix, config.remix_gains,
                           progress=progress and main_process)

    torch.manual_seed(initial_weights_seed(config))
    model = build_model(config.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay else None
    step = 0
    budget_decided = False
    if config.time_budget and resume and (out_dir / "config.json").is_file():  # steps decided at the run's start
        saved = json.loads((out_dir / "config.json").read_text())
        config = replace(config, **{name: int(saved[name]) for name in BUDGET_DECIDES})
        budget_decided = True
    if resume and checkpoint_path.is_file():
        payload = read_checkpoint(checkpoint_path)
        if TrainConfig.from_dict(payload["config"]) != config:
            raise ValueError(f"{checkpoint_path} was trained with another configuration; "
                             "use a new --out folder or the same profile and options")
        step = _load_training_state(payload, model, average, optimizer)
    elif checkpoint_path.is_file() or (out_dir / TRIALS_DIR).is_dir() and not resume:
        raise ValueError(f"{out_dir} already holds a training run ({CHECKPOINT_NAME} or {TRIALS_DIR}/); "
                         "pass resume=True (--resume) to continue it, or choose another output folder")
    elif main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in (LOG_NAME, VALIDATION_LOG_NAME, BEST_NAME, TRIALS_NAME):
            (out_dir / name).unlink(missing_ok=True)
    last_step = config.steps if stop_after is None else min(config.steps, stop_after)
    if step >= last_step:  # a finished run resumed (e.g. `--resume --test`): nothing to train or to rewrite
        return checkpoint_path
    if main_process and (budget_decided or not config.time_budget):  # a budget's steps: written once decided
        _write_config(out_dir, config)

    channels_last = device.type == "cpu" or device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        net = model

    def batch_at(step):
        mixture, accompaniment, voice = (t.to(device) for t in data.batch((step * world + rank) * config.batch_size,
                                                                          config.batch_size))
        if channels_last:
            mixture = mixture.contiguous(memory_format=torch.channels_last)
        return mixture, accompaniment, voice

    precision = pick_precision(model, batch_at(step)[0], config.precision, device)
    if world > 1:  # every process trains in the main process's choice
        choice = [precision]
        dist.broadcast_object_list(choice, src=0)
        precision = choice[0]
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
    if config.time_budget and not budget_decided:
        config, last_step = _fit_to_budget(config, model, batch_at, autocast, stop_after, rank, world)
        if main_process:
            _write_config(out_dir, config)
    chosen_seed = initial_weights_seed(config)
    if step == 0 and config.init_trials > 1:
        if last_step < config.trial_steps:  # stopped inside the screening (a simulated interruption)
            _screen_initial_weights(config, out_dir, data_root, device, precision, progress, rank, world, last_step)
            return out_dir / TRIALS_DIR
        chosen_seed = _screen_initial_weights(config, out_dir, data_root, device, precision, progress, rank, world)
        trial_dir = _trial_dir(out_dir, chosen_seed)
        step = _load_training_state(read_checkpoint(trial_dir / CHECKPOINT_NAME), model, average, optimizer)
        if world > 1:
            dist.barrier()  # every process has read the chosen trial before it is removed
        if main_process:
            _save(checkpoint_path, average.model if average is not None else model, optimizer, step, config,
                  training_model=model if average is not None else None)
            _adopt_trial_log(out_dir, trial_dir)
            for trial_checkpoint in (out_dir / TRIALS_DIR).glob(f"*/{CHECKPOINT_NAME}"):
                trial_checkpoint.unlink()  # the run's own checkpoint now holds the winner
    elif step and config.init_trials > 1 and (out_dir / TRIALS_NAME).is_file():
        chosen_seed = read_trials(out_dir).query("chosen")["init_seed"].iloc[0]
    if main_process:
        _write_run_info(out_dir, precision, device, clips, validation_clips, int(chosen_seed))
    validation = (_Validation(out_dir, validation_clips, config, step) if validation_clips and main_process and validate
                  else None)

    log = _Log(out_dir / LOG_NAME, config.model.stacks, step) if main_process else None
    bar = None
    if progress and main_process:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=step, desc=f"train ({count_parameters(model):,} params, {precision})")
    started = time.time()
    model.train()
    while step < last_step:
        lr = learning_rate_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        losses = training_step(net, model, optimizer, average, batch_at(step), autocast, config)
        step += 1
        if main_process:
            stack_values = [float(x.detach()) for x in losses]
            log.write(step, lr, stack_values, log.seconds_before + time.time() - started)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{sum(stack_values):.4f}", lr=f"{lr:.1e}")
            if step % config.checkpoint_every == 0 or step == last_step:
                separating_model = average.model if average is not None else model
                _save(checkpoint_path, separating_model, optimizer, step, config,
                      training_model=model if average is not None else None)
                paused = time.time()
                if validation is not None:
                    validation.score(step, separating_model, checkpoint_path)
                if on_checkpoint is not None:
                    on_checkpoint(step, model)
                model.train()
                started += time.time() - paused  # validation and callbacks are not training time
    if bar is not None:
        bar.close()
    if log is not None:
        log.close()
    if world > 1:
        dist.barrier()
    return checkpoint_path


def _write_config(out_dir: Path, config: TrainConfig) -> None:
    """The run's config.json (a time budget's decided steps included)."""
    (out_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")


def _fit_to_budget(config: TrainConfig, model, batch_at, autocast, stop_after, rank: int, world: int):
    """Time the training steps and return (config with the steps its time budget pays for, the last step to
    train). The timing counts against the budget. Under torchrun the main process's figure decides (its own
    steps, without the gradients' exchange). Warm-up stays as long; a staircase's decay step moves with the run."""
    started = time.perf_counter()
    steps = [None]
    if rank == 0:
        seconds_per_step = time_training_steps(model, batch_at, autocast, config)
        steps[0] = steps_within_budget(config, seconds_per_step, time.perf_counter() - started)
        print(f"time budget {config.time_budget:g} s: {seconds_per_step:.3f} s per step here, "
              f"so {steps[0]} steps (the profile's schedule stretched to them)")
    if world > 1:
        dist.broadcast_object_list(steps, src=0)
    if config.schedule == "step":  # the staircase keeps its place in the run (Park's ×0.2 at 80 %)
        config = replace(config, decay_step=max(1, round(config.decay_step * steps[0] / config.steps)))
    config = replace(config, steps=steps[0])
    return config, config.steps if stop_after is None else min(config.steps, stop_after)


def _load_training_state(payload: dict, model, average, optimizer) -> int:
    """Load a checkpoint's weights, weight average, optimizer and RNG state; return its step."""
    model.load_state_dict(payload.get("training_model", payload["model"]))
    if average is not None:
        average.model.load_state_dict(payload["model"])
        average.updates = int(payload["step"])
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["rng_state"])
    return int(payload["step"])


def trial_loss(log, trial_steps: int) -> float:
    """A trial's score: the mean training loss of a run's log over the second half of its first trial_steps steps
    (lower is better)."""
    window = (log["step"] > trial_steps // 2) & (log["step"] <= trial_steps)
    return float(log.loc[window, "loss"].mean())


def _trial_dir(out_dir: str | os.PathLike, seed: int) -> Path:
    """The run folder of a screened run's trial with the initial weights of `seed`."""
    return Path(out_dir) / TRIALS_DIR / f"init{seed}"


def _screen_initial_weights(config: TrainConfig, out_dir: Path, data_root, device, precision: str,
                            progress: bool, rank: int, world: int, stop_after: int | None = None) -> int | None:
    """Train config.init_trials initial weights (seeds init_seed, init_seed + 1, ...) for config.trial_steps
    steps each, each a resumable run under out_dir/trials/init<seed>; write trials.csv; return the seed whose
    training loss over the second half of the trial is lowest. Every trial sees the same windows.
    stop_after < trial_steps stops every trial there and chooses nothing (None)."""
    import pandas as pd

    first = initial_weights_seed(config)
    seeds = [first + k for k in range(config.init_trials)]
    for seed in seeds:
        trial = replace(config, init_seed=seed, init_trials=1, trial_steps=0, precision=precision, time_budget=0.0)
        train(trial, _trial_dir(out_dir, seed), data_root, resume=True, device=str(device),
              progress=progress, stop_after=min(config.trial_steps, stop_after or config.trial_steps), validate=False)
    if stop_after is not None and stop_after < config.trial_steps:
        return None
    chosen = [None]
    if rank != 0:  # the main process reads the trials' logs and chooses
        dist.broadcast_object_list(chosen, src=0)
        return chosen[0]
    logs = {seed: read_training_log(_trial_dir(out_dir, seed)) for seed in seeds}
    table = pd.DataFrame({"init_seed": seeds,
                          "loss": [trial_loss(logs[s], config.trial_steps) for s in seeds],
                          "seconds": [float(logs[s]["seconds"].iloc[-1]) for s in seeds]})
    table["chosen"] = table["loss"] == table["loss"].min()
    chosen[0] = int(table.loc[table["chosen"], "init_seed"].iloc[0])
    with atomic_path(out_dir / TRIALS_NAME) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g")
    if world > 1:
        dist.broadcast_object_list(chosen, src=0)
    return chosen[0]


def read_trials(out_dir: str | os.PathLike):
    """A screened run's trials.csv as a DataFrame (init_seed, loss, seconds, chosen), or None without screening."""
    import pandas as pd

    path = Path(out_dir) / TRIALS_NAME
    return pd.read_csv(path) if path.is_file() else None


def read_trial_logs(out_dir: str | os.PathLike) -> dict:
    """The training logs of a screened run's trials, by initial weights' seed (empty without screening)."""
    trials = read_trials(out_dir)
    seeds = [] if trials is None else trials["init_seed"]
    return {int(seed): read_training_log(_trial_dir(out_dir, seed)) for seed in seeds}


def _adopt_trial_log(out_dir: Path, trial_dir: Path) -> None:
    """The run's log starts as the chosen trial's, its seconds counting the other trials' training time too."""
    trials = read_trials(out_dir)
    others = float(trials.loc[~trials["chosen"], "seconds"].sum())
    log = read_training_log(trial_dir)
    log["seconds"] = (log["seconds"] + others).round(3)
    with atomic_path(out_dir / LOG_NAME) as temporary:
        log.to_csv(temporary, index=False)


def _write_run_info(out_dir: Path, precision: str, device, clips, validation_clips, init_seed: int) -> None:
    from .machine import describe_machine

    info = {"precision": precision, "device": str(device), "machine": describe_machine(device), "torch": torch.__version__,
            "training_clips": len(clips), "validation_clips": [c.id for c in validation_clips],
            "initial_weights_seed": init_seed}
    (out_dir / RUN_INFO_NAME).write_text(json.dumps(info, indent=2) + "\n")


class _Validation:
    """Scores the separating weights on the validation songs at every checkpoint (Park's protocol, GNSDR);
    keeps the best checkpoint (by the mean of voice and accompaniment GNSDR) as best.pt."""

    def __init__(self, out_dir: Path, clips, config: TrainConfig, resumed_step: int):
        from .data import load_sources

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

        from .evaluate import separate_and_score
        from .metrics import summarise
        from .separate import Separator

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


def read_validation_log(out_dir: str | os.PathLike):
    """The validation figures of a run as a pandas DataFrame (empty if it had no validation songs)."""
    import pandas as pd

    path = Path(out_dir) / VALIDATION_LOG_NAME
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=["step", "voice_gnsdr", "accompaniment_gnsdr"])


def _save(path, model, optimizer, step, config, training_model=None):
    """"model": the weights to separate with (the average, with EMA); "training_model": the raw weights, with EMA."""
    payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
               "rng_state": torch.get_rng_state(), "config": config.to_dict(), "torch_version": str(torch.__version__)}
    if training_model is not None:
        payload["training_model"] = training_model.state_dict()
    save_atomic(payload, path)


class _Log:
    """CSV of per-stack losses per step; on resume, rows after the checkpoint's step are dropped."""

    def __init__(self, path: Path, stacks: int, resumed_step: int):
        self.path = path
        self.fields = ["step", "lr", "loss"] + [f"loss_stack{i + 1}" for i in range(stacks)] + ["seconds"]
        rows = []
        if resumed_step and path.is_file():
            with open(path) as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resumed_step]
        self.seconds_before = float(rows[-1]["seconds"]) if rows else 0.0  # training time of earlier sessions
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


def read_training_log(out_dir: str | os.PathLike):
    """The training log as a pandas DataFrame."""
    import pandas as pd

    return pd.read_csv(Path(out_dir) / LOG_NAME)

