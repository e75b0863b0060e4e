"""The training loop (nanoGPT-sized): intermediate supervision, atomic checkpoints, exact resume.

Run it as ``shsep train --profile cpu --out runs/cpu``; under ``torchrun --nproc-per-node N`` the same code
trains with DistributedDataParallel (gloo on CPU, NCCL on GPUs), each process drawing its own windows, so
the global batch is N × batch_size.
"""
from __future__ import annotations

import json
import os
import time
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from ..checkpoints import read_checkpoint
from ..data import index_clips, split_validation
from ..dataset import TrainingBatches
from ..models import build_model, count_parameters
from ..profiles import TrainConfig, initial_weights_seed
from ..progress import Progress, format_seconds
from ..targets import check_loss, num_outputs
from . import budget, screening
from .run_files import (BEST_NAME, CHECKPOINT_NAME, CONFIG_NAME, LOG_NAME, VALIDATION_LOG_NAME, TrainingLog,
                        Validation, load_training_state, save_checkpoint, write_config, write_run_info)
from .step import (WeightAverage, cropped, learning_rate_at, pick_precision, short_window_frames, training_step,
                   window_frames_at)

ESTIMATE_FROM_STEPS = 500  # runs with at least this many steps left time a few steps first and print an estimate
ESTIMATE_TIMED_STEPS = 5


def _last_step(config: TrainConfig, stop_after: int | None) -> int:
    """Where this invocation stops: the run's steps, or stop_after if sooner (a simulated interruption)."""
    return config.steps if stop_after is None else min(config.steps, stop_after)


def train(config: TrainConfig, out_dir: str | os.PathLike, data_root=None, resume: bool = False,
          device: str | None = None, progress: bool = True, stop_after: int | None = None,
          on_checkpoint=None, validate: bool = True, deadline: float | None = None) -> Path:
    """Train `config`, writing ``checkpoint.pt`` (latest, atomic), ``log.csv`` and ``config.json`` to out_dir.

    resume=True continues from out_dir's checkpoint. stop_after ends the run after that many steps
    in total (to simulate an interruption). on_checkpoint(step, model), if given, is called on the
    main process after every checkpoint (e.g. to record activations). Returns the checkpoint path.
    The log's ``seconds`` column is training time summed over resumes (and over the trials of init_trials).
    validate=False skips scoring the validation songs at checkpoints (they are still held out). deadline (a
    time.time()): stop at the first step past it, with a checkpoint, to be resumed later (a lent GPU's time limit).
    config.init_trials > 1 screens initial weights first (`screening`); config.time_budget > 0 trains the steps
    that fit that many seconds here (`budget`). progress: a line at least every 5 % (a bar on a terminal).
    """
    _check(config)
    out_dir = Path(out_dir)
    rank, world = _distributed()
    main_process = rank == 0
    if deadline is not None and world > 1:
        raise ValueError("a deadline stops one process where it falls: not under torchrun")
    device = pick_device(device)
    checkpoint_path = out_dir / CHECKPOINT_NAME

    clips, validation_clips = split_validation(index_clips(data_root, "train"), config.validation_songs)
    clips = clips[: config.max_train_clips]
    data = TrainingBatches(clips, config.front_end, config.sampler, config.seed, progress=progress and main_process,
                           **config.augmentation())
    config, budget_decided = _budget_decided_before(config, out_dir, resume)
    model, optimizer, average = _fresh_model(config, device)
    step = _open_run_folder(out_dir, config, resume, model, average, optimizer, main_process)
    last_step = _last_step(config, stop_after)
    if step >= last_step:  # a finished run resumed (e.g. `--resume --test`): nothing to train or to rewrite
        return checkpoint_path
    if main_process and (budget_decided or not config.time_budget):  # a budget's steps: written once decided
        write_config(out_dir, config)

    net, batch_at = _place(model, data, config, device, rank, world)
    precision = pick_precision(model, batch_at(step)[0], config.precision, device)
    if world > 1:  # every process trains in the main process's choice
        choice = [precision]
        dist.broadcast_object_list(choice, src=0)
        precision = choice[0]
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
    seconds_per_step, refit_at = None, None
    if config.time_budget and not budget_decided:
        budget_started = time.perf_counter()
        trained = config.model
        config, seconds_per_step = budget.fit_to_budget(
            config, model, batch_at, autocast, rank, world, build=lambda network: _placed(build_model(network), device),
            batches=lambda cheaper: _batches(data, cheaper, device, rank, world))
        if config.model != trained:  # the budget chose the profile's cheaper network (its loss, its batch): start it
            model, optimizer, average = _fresh_model(config, device)
            net, batch_at = _place(model, data, config, device, rank, world)
        last_step = _last_step(config, stop_after)
        refit_at = budget.refit_step(config)
        if main_process:
            write_config(out_dir, config)
    chosen_seed = initial_weights_seed(config)
    if step == 0 and config.init_trials > 1:
        if last_step < config.trial_steps:  # stopped inside the screening (a simulated interruption)
            screening.screen_initial_weights(config, out_dir, data_root, device, precision, progress, rank, world,
                                             last_step)
            return out_dir / screening.TRIALS_DIR
        chosen_seed, step = _continue_the_best_trial(config, out_dir, data_root, device, precision, progress, rank,
                                                     world, model, average, optimizer)
    elif step and config.init_trials > 1 and (out_dir / screening.TRIALS_NAME).is_file():
        chosen_seed = screening.read_trials(out_dir).query("chosen")["init_seed"].iloc[0]
    if main_process:
        write_run_info(out_dir, precision, device, clips, validation_clips, int(chosen_seed))
    validation = (Validation(out_dir, validation_clips, config, step) if validation_clips and main_process and validate
                  else None)
    log = TrainingLog(out_dir / LOG_NAME, config.model.stacks, step) if main_process else None
    report = progress and main_process
    if report and last_step - step >= ESTIMATE_FROM_STEPS:
        seconds_per_step = seconds_per_step or budget.time_training_steps(model, batch_at, autocast, config,
                                                                          ESTIMATE_TIMED_STEPS)
        print(estimate(seconds_per_step, last_step - step, step), flush=True)
    bar = Progress(config.steps, f"train ({count_parameters(model):,} params, {precision})", initial=step,
                   unit="steps", every_fraction=0.05, milestone_lines=True, enabled=report)

    started = time.time()
    first_step_at, first_step = time.perf_counter(), step
    model.train()
    while step < last_step:
        if step == refit_at:  # the budget's steps, fitted again to the run's own pace (its checkpoint passes too)
            config = budget.refit_to_pace(config, step - first_step, time.perf_counter() - first_step_at,
                                          time.perf_counter() - budget_started, rank, world)
            last_step = _last_step(config, stop_after)
            bar.set_total(config.steps)
            if main_process:  # the checkpoint first: a resume trusts it (`_budget_decided_before`)
                _save_run_checkpoint(checkpoint_path, model, average, optimizer, step, config)
                write_config(out_dir, config)
        lr = learning_rate_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = cropped(batch_at(step), window_frames_at(step, config))
        losses = training_step(net, model, optimizer, average, batch, autocast, config)
        step += 1
        if not main_process:
            continue
        stack_values = [float(x.detach()) for x in losses]
        log.write(step, lr, stack_values, log.seconds_before + time.time() - started)
        bar.update(1, loss=f"{sum(stack_values):.4f}", lr=f"{lr:.1e}")
        out_of_time = deadline is not None and time.time() >= deadline
        if step % config.checkpoint_every == 0 or step == last_step or out_of_time:
            _save_run_checkpoint(checkpoint_path, model, average, optimizer, step, config)
            paused = time.time()
            if validation is not None:
                validation.score(step, average.model if average is not None else model, checkpoint_path)
            if on_checkpoint is not None:
                on_checkpoint(step, model)
            model.train()
            started += time.time() - paused  # validation and callbacks are not training time
        if out_of_time:
            break
    bar.close()
    if log is not None:
        log.close()
    if world > 1:
        dist.barrier()
    return checkpoint_path


def estimate(seconds_per_step: float, steps_left: int, step: int) -> str:
    """The line a long run prints before its first step: speed here, and when it should finish."""
    seconds = seconds_per_step * steps_left
    finish = datetime.now() + timedelta(seconds=seconds)
    where = f"from step {step}, " if step else ""
    return (f"{seconds_per_step:.3f} s per step on this machine (timed): {where}{steps_left} steps take about "
            f"{format_seconds(seconds)} (checkpoints and validation extra), finishing about {finish:%H:%M}")


def pick_device(requested: str | None = None) -> torch.device:
    if requested:
        return torch.device(requested)
    if dist.is_available() and dist.is_initialized() and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check(config: TrainConfig) -> None:
    check_loss(config.loss)
    if config.model.outputs != num_outputs(config.target):
        raise ValueError(f"target {config.target!r} needs {num_outputs(config.target)} outputs, "
                         f"the model config has {config.model.outputs}")
    for weight in ("resolution_loss", "early_stack_weight"):
        if getattr(config, weight) < 0:
            raise ValueError(f"{weight} is a loss weight, at least 0, not {getattr(config, weight)}")
    if config.resolution_loss and not config.remix:
        raise ValueError("the multi-resolution loss resynthesises from the windows' phase, which the remix pipeline "
                         "keeps: resolution_loss needs remix > 0")
    if config.resolution_loss and num_outputs(config.target) != 2:
        raise ValueError(f"the multi-resolution loss compares both sources: target {config.target!r} predicts one")
    if config.batch_size < 1:
        raise ValueError(f"batch_size is the training windows per step, at least 1, not {config.batch_size}")
    if not 0 <= config.warmup_steps < config.steps:
        raise ValueError(f"warmup_steps must be at least 0 and fewer than the run's {config.steps} steps, "
                         f"not {config.warmup_steps}")
    if not 0 <= config.short_patches < 1:
        raise ValueError(f"short_patches is a share of the steps, 0 to below 1, not {config.short_patches}")
    half, pooled = short_window_frames(config), 2 ** config.model.depth
    if config.short_patches and half % pooled:
        raise ValueError(f"short windows of {half} frames do not pool {config.model.depth} times "
                         f"(a multiple of {pooled} frames is needed)")
    if config.init_trials < 1:
        raise ValueError(f"init_trials must be at least 1 (1: no screening), not {config.init_trials}")
    if config.init_trials > 1 and not 0 < config.trial_steps <= config.steps:
        raise ValueError(f"screening {config.init_trials} initial weights needs trial_steps between 1 and the run's "
                         f"{config.steps} steps, not {config.trial_steps}")


def _distributed() -> tuple[int, int]:
    """Initialise the process group when launched by torchrun; return (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _budget_decided_before(config: TrainConfig, out_dir: Path, resume: bool) -> tuple[TrainConfig, bool]:
    """On resume, a time budget's steps and network are the ones the run decided: its checkpoint's, else (a run
    stopped before its first checkpoint) its config.json's."""
    if not (config.time_budget and resume):
        return config, False
    if (out_dir / CHECKPOINT_NAME).is_file():
        saved = TrainConfig.from_dict(config.to_dict() | read_checkpoint(out_dir / CHECKPOINT_NAME)["config"])
    elif (out_dir / CONFIG_NAME).is_file():
        saved = TrainConfig.from_dict(json.loads((out_dir / CONFIG_NAME).read_text()))
    else:
        return config, False
    return replace(config, **{name: getattr(saved, name) for name in budget.BUDGET_DECIDES}), True


def _fresh_model(config: TrainConfig, device):
    """The run's network at its initial weights (seeded), its Adam optimiser and its weight average."""
    torch.manual_seed(initial_weights_seed(config))
    model = build_model(config.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay else None
    return model, optimizer, average


def _channels_last(device) -> bool:
    """Whether training runs channels-last on this device (CPU and CUDA)."""
    return device.type in ("cpu", "cuda")


def _placed(model, device):
    """model on device, channels-last where training runs so."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if _channels_last(device) else model


def _save_run_checkpoint(path: Path, model, average, optimizer, step: int, config: TrainConfig) -> None:
    """The run's checkpoint: the weights it separates with (the average's, where it keeps one) and the state to
    resume from."""
    save_checkpoint(path, average.model if average is not None else model, optimizer, step, config,
                    training_model=model if average is not None else None)


def _open_run_folder(out_dir: Path, config, resume: bool, model, average, optimizer, main_process: bool) -> int:
    """Load the run's checkpoint on resume, or start a fresh folder (refusing to overwrite a run); the step."""
    checkpoint_path = out_dir / CHECKPOINT_NAME
    if resume and checkpoint_path.is_file():
        payload = read_checkpoint(checkpoint_path)
        # fields a checkpoint predates (added to TrainConfig since) take the requested values
        if TrainConfig.from_dict(config.to_dict() | payload["config"]) != config:
            raise ValueError(f"{checkpoint_path} was trained with another configuration; "
                             "use a new --out folder or the same profile and options")
        return load_training_state(payload, model, average, optimizer)
    if checkpoint_path.is_file() or (out_dir / screening.TRIALS_DIR).is_dir() and not resume:
        raise ValueError(f"{out_dir} already holds a training run ({CHECKPOINT_NAME} or {screening.TRIALS_DIR}/); "
                         "pass resume=True (--resume) to continue it, or choose another output folder")
    if main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in (LOG_NAME, VALIDATION_LOG_NAME, BEST_NAME, screening.TRIALS_NAME):
            (out_dir / name).unlink(missing_ok=True)
    return 0


def _place(model, data, config: TrainConfig, device, rank: int, world: int):
    """Channels-last weights and batches (CPU and CUDA), DistributedDataParallel under torchrun: (net, batch_at)."""
    _placed(model, device)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return net, _batches(data, config, device, rank, world)


def _batches(data, config: TrainConfig, device, rank: int, world: int):
    """batch_at(step): this process's batch of config.batch_size windows at that step, placed like the weights."""
    channels_last = _channels_last(device)

    def batch_at(step):
        """(mixture, accompaniment, voice), and the complex stems where the loss resynthesises them."""
        mixture, *rest = (t.to(device) for t in data.batch((step * world + rank) * config.batch_size,
                                                           config.batch_size, with_phase=config.resolution_loss > 0))
        if channels_last:
            mixture = mixture.contiguous(memory_format=torch.channels_last)
        return (mixture, *rest)

    return batch_at


def _continue_the_best_trial(config, out_dir, data_root, device, precision, progress, rank, world, model, average,
                             optimizer) -> tuple[int, int]:
    """Screen the initial weights, load the chosen trial into the run and make it the run's checkpoint and log;
    (its seed, its step)."""
    chosen_seed = screening.screen_initial_weights(config, out_dir, data_root, device, precision, progress, rank, world)
    chosen_dir = screening.trial_dir(out_dir, chosen_seed)
    step = load_training_state(read_checkpoint(chosen_dir / CHECKPOINT_NAME), model, average, optimizer)
    if world > 1:
        dist.barrier()  # every process has read the chosen trial before it is removed
    if rank == 0:
        _save_run_checkpoint(out_dir / CHECKPOINT_NAME, model, average, optimizer, step, config)
        screening.adopt_trial_log(out_dir, chosen_dir)
        for trial_checkpoint in (out_dir / screening.TRIALS_DIR).glob(f"*/{CHECKPOINT_NAME}"):
            trial_checkpoint.unlink()  # the run's own checkpoint now holds the winner
    return chosen_seed, step
