"""Training loop (nanoGPT-sized): intermediate supervision, step decay, atomic checkpoints, exact resume.

Run it as ``shsep train --profile cpu --out runs/cpu``; under ``torchrun --nproc-per-node N``
the same code trains with DistributedDataParallel (gloo on CPU, NCCL on GPUs), each process
drawing its own windows so the global batch is N × batch_size.
"""
from __future__ import annotations

import csv
import json
import os
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist

from .checkpoints import read_checkpoint, save_atomic
from .data import index_clips
from .dataset import SpectrogramSet
from .models import build_model, count_parameters
from .profiles import TrainConfig
from .targets import num_outputs, stack_losses

CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.csv"


def pick_device(requested: str | None = None) -> torch.device:
    if requested:
        return torch.device(requested)
    if dist.is_available() and dist.is_initialized() and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def learning_rate_at(step: int, config: TrainConfig) -> float:
    """Staircase decay: ×decay_factor every decay_step steps (Park's ×0.2 at 12000)."""
    return config.learning_rate * config.decay_factor ** (step // config.decay_step)


def _distributed() -> tuple[int, int]:
    """Initialise the process group when launched by torchrun; return (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def train(config: TrainConfig, out_dir: str | os.PathLike, data_root=None, resume: bool = False,
          device: str | None = None, progress: bool = True, stop_after: int | None = None,
          on_checkpoint=None) -> Path:
    """Train `config`, writing ``checkpoint.pt`` (latest, atomic), ``log.csv`` and ``config.json`` to out_dir.

    resume=True continues from out_dir's checkpoint. stop_after ends the run after that many steps
    in total (to simulate an interruption). on_checkpoint(step, model), if given, is called on the
    main process after every checkpoint (e.g. to record activations). Returns the checkpoint path.
    The log's ``seconds`` column is training time summed over resumes.
    """
    if config.model.outputs != num_outputs(config.target):
        raise ValueError(f"target {config.target!r} needs {num_outputs(config.target)} outputs, "
                         f"the model config has {config.model.outputs}")
    out_dir = Path(out_dir)
    rank, world = _distributed()
    main_process = rank == 0
    device = pick_device(device)
    checkpoint_path = out_dir / CHECKPOINT_NAME

    clips = index_clips(data_root, "train")[: config.max_train_clips]
    data = SpectrogramSet(clips, config.front_end, progress=progress and main_process)
    sampler = data.sampler(config.sampler, config.seed)

    torch.manual_seed(config.seed)
    model = build_model(config.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    step = 0
    if resume and checkpoint_path.is_file():
        payload = read_checkpoint(checkpoint_path)
        if TrainConfig.from_dict(payload["config"]) != config:
            raise ValueError(f"{checkpoint_path} was trained with another configuration; "
                             "use a new --out folder or the same profile and options")
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        step = int(payload["step"])
        torch.set_rng_state(payload["rng_state"])
    elif checkpoint_path.is_file():
        raise ValueError(f"{out_dir} already holds a training run ({CHECKPOINT_NAME}); "
                         "pass resume=True (--resume) to continue it, or choose another output folder")
    elif main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / LOG_NAME).unlink(missing_ok=True)
    if main_process:
        (out_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")

    channels_last = device.type == "cpu" or device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        net = model
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()

    log = _Log(out_dir / LOG_NAME, config.model.stacks, step) if main_process else None
    last_step = config.steps if stop_after is None else min(config.steps, stop_after)
    bar = None
    if progress and main_process:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=step, desc=f"train ({count_parameters(model):,} params)")
    started = time.time()
    model.train()
    while step < last_step:
        lr = learning_rate_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        first_draw = (step * world + rank) * config.batch_size
        mixture, accompaniment, voice = (t.to(device) for t in data.batch(sampler.draws(first_draw, config.batch_size)))
        if channels_last:
            mixture = mixture.contiguous(memory_format=torch.channels_last)
        with autocast:
            predictions = net(mixture)
        losses = stack_losses(predictions, mixture, accompaniment, voice, config.target)
        total = sum(losses)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        step += 1
        if main_process:
            log.write(step, lr, [float(x.detach()) for x in losses], log.seconds_before + time.time() - started)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(total.detach()):.4f}", lr=f"{lr:.1e}")
            if step % config.checkpoint_every == 0 or step == last_step:
                _save(checkpoint_path, model, optimizer, step, config)
                if on_checkpoint is not None:
                    paused = time.time()
                    on_checkpoint(step, model)
                    model.train()
                    started += time.time() - paused  # the callback's time is not training time
    if bar is not None:
        bar.close()
    if log is not None:
        log.close()
    if world > 1:
        dist.barrier()
    return checkpoint_path


def _save(path, model, optimizer, step, config):
    save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                 "rng_state": torch.get_rng_state(), "config": config.to_dict(),
                 "torch_version": str(torch.__version__)}, path)


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

