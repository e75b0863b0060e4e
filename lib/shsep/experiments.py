"""Running the ablation study: train (or resume) each arm, score it, append its row to the experiment log.

``run_arms(budget)`` runs the arms the log does not hold yet (all of them with ``rerun=True``). Runs live in
``runs/ablations/<budget>/<arm>/``; an interrupted run resumes. The design (budgets, arms): `arms`; the log and
its answers: `experiment_log`; the head probes recorded while an arm trains: `probes`; the evaluator question:
`evaluator_questions`.
"""
from __future__ import annotations

import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from .arms import ARMS, ARMS_BY_NAME, DEFAULT_BUDGET, RECIPE_BUDGET, Arm, Budget, check_budget, evaluation_clips
from .data import index_clips
from .experiment_log import append_row, read_experiment_log, results_dir
from .machine import describe_machine
from .paths import RUNS
from .probes import ActivationLog, read_activations
from .profiles import LOGGED_LEVERS, LOGGED_TRAINING_CHOICES, shifts_text

RUNS_DIR = RUNS / "ablations"


def activations_path(budget: str, arm: str, log_path=None) -> Path:
    """Where an arm's head probes are kept: beside the experiment log, in activations_<budget>/<arm>.csv."""
    folder = Path(log_path).parent if log_path else results_dir(budget)
    return folder / f"activations_{budget}" / f"{arm}.csv"


def run_arm(arm: Arm | str, budget: Budget | str = DEFAULT_BUDGET, log_path=None, runs_dir=RUNS_DIR,
            data_root=None, device: str | None = None, workers: int | None = None, rerun: bool = False,
            progress: bool = True) -> dict:
    """Train (or resume) one arm, score it on the budget's test clips, append its row to the log; returns the row."""
    from .evaluate import evaluate
    from .metrics import summarise
    from .models import build_model, count_parameters
    from .profiles import initial_weights_seed
    from .train import CHECKPOINT_NAME, pick_device, read_training_log, train

    arm = ARMS_BY_NAME[arm] if isinstance(arm, str) else arm
    budget = check_budget(budget) if isinstance(budget, str) else budget
    config = arm.config(budget)
    log_path = log_path or results_dir(budget.name) / "experiments.csv"
    run_dir = Path(runs_dir) / budget.name / arm.name
    if rerun and run_dir.exists():
        shutil.rmtree(run_dir)
    checkpoint = run_dir / CHECKPOINT_NAME
    probes_path = activations_path(budget.name, arm.name, log_path)
    probe = ActivationLog(probes_path, config, data_root)
    if not checkpoint.is_file():
        run_dir.mkdir(parents=True, exist_ok=True)
        probes_path.parent.mkdir(parents=True, exist_ok=True)
        probes_path.unlink(missing_ok=True)
        torch.manual_seed(initial_weights_seed(config))  # the same initial weights train() starts from
        probe(0, build_model(config.model))
    device = pick_device(device)
    train(config, run_dir, data_root, resume=True, device=str(device), progress=progress, on_checkpoint=probe)

    clips = evaluation_clips(budget, data_root)
    started = time.time()
    evaluation = evaluate(checkpoint, data_root=data_root, clip_ids=clips, workers=workers, progress=progress)
    evaluation.save(run_dir / "eval")
    eval_seconds = time.time() - started

    train_log = read_training_log(run_dir)
    last_probe = read_activations(probes_path).query("step == step.max()").iloc[-1]
    model = config.model
    row = {
        "budget": budget.name, "arm": arm.name, "question": arm.question, "change": arm.change,
        "architecture": model.architecture, "channels": model.channels, "growth": model.growth,
        "stacks": model.stacks, "depth": model.depth, "head": model.head or "default", "target": config.target,
        "sampler": config.sampler, "seed": config.seed, "steps": int(train_log["step"].iloc[-1]),
        "batch_size": config.batch_size, "learning_rate": config.learning_rate,
        "train_clips": len(index_clips(data_root, "train")[: config.max_train_clips]),
        "parameters": count_parameters(build_model(model)),
        "final_loss": float(train_log["loss"].tail(50).mean()),
        "final_prediction_nonpositive_fraction": float(last_probe["prediction_nonpositive_fraction"]),
        "train_seconds": round(float(train_log["seconds"].iloc[-1]), 1),
        "device": describe_machine(device), "evaluator": evaluation.evaluator,
        "eval_seconds": round(eval_seconds, 1),
    } | summarise(evaluation.per_clip) | {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"), "torch": torch.__version__,
    }
    append_row(row, log_path)
    return row


def log_training_run(run_dir, change: str, test: bool = True, data_root=None, workers: int | None = None,
                     log_path=None, progress: bool = True, budget: str = RECIPE_BUDGET, arm: str | None = None,
                     test_scores=None, extra: dict | None = None) -> dict:
    """Log a finished training run (a recipe) in results/experiments.csv: recipe, size, steps, wall-clock, machine,
    validation figure and, with test=True, its one test-split score (the best validation checkpoint, Park's protocol).

    change says what was run ("profile cpu, growth 48"). The row's budget is "recipe" (or `budget`: "gpu-sweep" for
    the GPU sweep's candidates), its arm the run folder's name (or `arm`) and its date the end of training; a rerun
    of the same folder replaces its row. test_scores: a folder holding the run's test scores already (per_clip.csv
    and summary.json, scored where it trained, e.g. a GPU), read instead of scoring here; extra: more columns.
    """
    import json

    from .evaluate import evaluate
    from .metrics import summarise
    from .models import build_model, count_parameters
    from .profiles import TrainConfig, initial_weights_seed
    from .train import (BEST_NAME, CHECKPOINT_NAME, LOG_NAME, RUN_INFO_NAME, TRIALS_NAME, read_training_log,
                        read_validation_log, trial_loss)

    run_dir = Path(run_dir)
    config = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    info = json.loads((run_dir / RUN_INFO_NAME).read_text()) if (run_dir / RUN_INFO_NAME).is_file() else {}
    train_log, validation = read_training_log(run_dir), read_validation_log(run_dir)
    checkpoint = run_dir / (BEST_NAME if (run_dir / BEST_NAME).is_file() else CHECKPOINT_NAME)
    best = validation.loc[validation["mean_gnsdr"].idxmax()] if len(validation) else None
    model = config.model
    row = {
        "budget": budget, "arm": arm or run_dir.name, "question": "recipe", "change": change,
        "architecture": model.architecture, "channels": model.channels, "growth": model.growth,
        "stacks": model.stacks, "depth": model.depth, "head": model.head or "default",
        "input_power": model.input_power, "dense_frequency_bins": model.dense_frequency_bins,
        "dense_full_resolution": model.dense_full_resolution,
        "target": config.target, "sampler": config.sampler, "seed": config.seed,
        "init_seed": int(info.get("initial_weights_seed", initial_weights_seed(config))),
        "init_trials": config.init_trials, "steps": int(train_log["step"].iloc[-1]),
        "batch_size": config.batch_size, "learning_rate": config.learning_rate, "schedule": config.schedule,
        "ema_decay": config.ema_decay, "precision": info.get("precision", config.precision),
        **{lever: getattr(config, lever) for lever in LOGGED_LEVERS},
        "voice_shifts": shifts_text(config.voice_shifts),
        "front_end_rate": config.front_end.sample_rate,
        **{choice: getattr(config, choice) for choice in LOGGED_TRAINING_CHOICES},
        "train_clips": info.get("training_clips"), "parameters": count_parameters(build_model(model)),
        "final_loss": float(train_log["loss"].tail(50).mean()),
        "loss_501_1000": trial_loss(train_log, 1000),  # what the cpu profile's screening compares
        "train_seconds": round(float(train_log["seconds"].iloc[-1]), 1), "device": info.get("machine"),
        "validation_clips": len(info.get("validation_clips", [])),
        "best_step": int(best["step"]) if best is not None else int(train_log["step"].iloc[-1]),
        "validation_voice_gnsdr": float(best["voice_gnsdr"]) if best is not None else None,
        "validation_accompaniment_gnsdr": float(best["accompaniment_gnsdr"]) if best is not None else None,
    }
    if (run_dir / TRIALS_NAME).is_file():  # the initial weights it screened: "seed:loss" each
        trials = pd.read_csv(run_dir / TRIALS_NAME)
        row["init_trial_losses"] = " ".join(f"{int(t.init_seed)}:{t.loss:.5g}" for t in trials.itertuples())
    if test and test_scores is not None:
        summary = json.loads((Path(test_scores) / "summary.json").read_text())
        row |= {"evaluator": summary["evaluator"]} | summarise(pd.read_csv(Path(test_scores) / "per_clip.csv"))
    elif test:
        if progress:  # with songs held out, the best validation step (best.pt); otherwise the last
            print(f"test: scoring {checkpoint}" + (", the step with the best validation figure"
                                                   if checkpoint.name == BEST_NAME else ""), flush=True)
        started = time.time()
        evaluation = evaluate(checkpoint, "test", data_root, workers=workers, progress=progress)
        evaluation.save(run_dir / "eval_test")
        row |= {"evaluator": evaluation.evaluator, "eval_seconds": round(time.time() - started, 1)}
        row |= summarise(evaluation.per_clip)
    finished = datetime.fromtimestamp((run_dir / LOG_NAME).stat().st_mtime, timezone.utc)  # when training ended
    row |= {"date": finished.strftime("%Y-%m-%d %H:%M"), "torch": info.get("torch", torch.__version__)} | (extra or {})
    append_row(row, log_path or results_dir(DEFAULT_BUDGET) / "experiments.csv")
    return row


def missing_arms(budget: str, log_path=None) -> list[str]:
    done = set(read_experiment_log(log_path or results_dir(budget) / "experiments.csv", budget)["arm"])
    return [arm.name for arm in ARMS if arm.name not in done]


def run_arms(budget: str = DEFAULT_BUDGET, arms: list[str] | None = None, rerun: bool = False,
             log_path=None, runs_dir=RUNS_DIR, data_root=None, device: str | None = None,
             workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Run the given arms (default: those the log lacks for this budget; all of them with rerun=True); returns the log."""
    check_budget(budget)
    log_path = log_path or results_dir(budget) / "experiments.csv"
    names = arms or ([arm.name for arm in ARMS] if rerun else missing_arms(budget, log_path))
    unknown = [n for n in names if n not in ARMS_BY_NAME]
    if unknown:
        raise ValueError(f"unknown arms {unknown}; choose from {list(ARMS_BY_NAME)}")
    for name in names:
        if progress:
            print(f"[ablations] {budget}: {name}", flush=True)
        run_arm(name, budget, log_path, runs_dir, data_root, device, workers, rerun, progress)
    return read_experiment_log(log_path, budget)
