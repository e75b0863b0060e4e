"""The ablation study: named arms, one budget for all of them, and an experiment log written per run.

Every arm is the budget's base configuration with one change (``ARMS``): the base is Park's graph
with 2 stacks, channels growing with depth, masks for both sources and the clip-then-start sampler.
``run_arms(budget)`` trains and scores the arms that the log does not hold yet (or all of them with
``rerun=True``) and appends one row per run to ``results/experiments.csv`` (and ``.xlsx``, like the
report's ``result.xlsx``). Runs live in ``runs/ablations/<budget>/<arm>/``; an interrupted run resumes.

While an arm trains, ``activations.csv`` records, at every checkpoint, what its prediction heads
output on a fixed batch of training windows (``probe_heads``): the evidence for the
direct-prediction question. ``run_evaluator_questions`` answers the evaluator question.
"""
from __future__ import annotations

import csv
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import index_clips
from .paths import OUTPUTS, RESULTS, RUNS, atomic_path
from .profiles import TrainConfig, get_profile, with_overrides
from .targets import predicted_sources, reference_sources

RUNS_DIR = RUNS / "ablations"


def results_dir(budget: str) -> Path:
    """Where a budget's logs go: results/ (committed), except the smoke budget's: outputs/smoke/results/."""
    return OUTPUTS / "smoke" / "results" if budget == "smoke" else RESULTS


RESULTS_LOG = results_dir("ablation") / "experiments.csv"
METRICS = [f"{s}_{m}" for s in ("voice", "accompaniment") for m in ("gnsdr", "gsir", "gsar")]


@dataclass(frozen=True)
class Budget:
    """The training recipe every arm shares, and how many test clips score each arm (None: all present)."""

    name: str
    base: TrainConfig
    eval_clips: int | None
    about: str


BUDGET_FOR_PROFILE = {"smoke": "smoke", "cpu": "ablation", "paper": "paper", "paper-growing": "paper"}
BUDGETS = {
    "smoke": Budget("smoke", get_profile("smoke", growth=8, seed=0), 4,
                    "CI-sized: 8 channels +8, depth 2, 20 steps on 4 training clips, 4 test clips"),
    "ablation": Budget("ablation", get_profile("ablation"), 100,
                       "CPU-sized: 16 channels +16, depth 4, 1000 steps of 4 windows on all training clips, "
                       "scored on 100 test clips spread evenly over the present ones"),
    "paper": Budget("paper", get_profile("paper", channels=64, growth=64, stacks=2), None,
                    "GPU: Park's recipe (15000 steps, Adam 1e-4 ×0.2 at 12000) at the report's widths "
                    "(64 +64), all test clips"),
}


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


# ---------------------------------------------------------------- the experiment log

def read_experiment_log(path: str | os.PathLike = RESULTS_LOG, budget: str | None = None) -> pd.DataFrame:
    """The experiment log (empty if there is none yet), optionally only one budget's rows."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=["budget", "arm"])
    log = pd.read_csv(path)
    return log[log["budget"] == budget].reset_index(drop=True) if budget else log


def append_row(row: dict, path: str | os.PathLike = RESULTS_LOG) -> pd.DataFrame:
    """Add one run to the log, replacing an earlier row of the same budget and arm; writes .csv and .xlsx atomically."""
    path = Path(path)
    log = read_experiment_log(path)
    log = log[~((log["budget"] == row["budget"]) & (log["arm"] == row["arm"]))]
    log = pd.concat([log, pd.DataFrame([row])], ignore_index=True) if len(log) else pd.DataFrame([row])
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix, write in ((".csv", lambda p: log.to_csv(p, index=False, float_format="%.4f")),
                          (".xlsx", lambda p: log.to_excel(p, index=False, sheet_name="experiments"))):
        with atomic_path(path.with_suffix(suffix)) as temporary:
            write(temporary)
    return log


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.machine()}, {torch.get_num_threads()} threads"


# ---------------------------------------------------------------- activations

def probe_heads(model: torch.nn.Module, mixture, accompaniment, voice, target: str) -> list[dict]:
    """What each stack's prediction head does on a fixed batch, per stack.

    As separation sees it (eval mode): the mean prediction, the fraction of predictions ≤ 0 (zero
    after a ReLU head or the clip at 0) and the mean estimate beside the mean reference.
    As training sees it (train mode; BatchNorm statistics are restored afterwards): the loss, the
    fraction of positive inputs to the head's ReLU (bn-relu heads only) and the norm of the loss
    gradient reaching the head's weights (0: the head has stopped learning).
    """
    from .models import _ConvBNReLU

    was_training = model.training
    reference = reference_sources(accompaniment, voice, target)
    rows = []
    model.eval()
    with torch.no_grad():
        for i, prediction in enumerate(model(mixture)):
            rows.append({
                "stack": i + 1,
                "prediction_mean": float(prediction.mean()),
                "prediction_nonpositive_fraction": float((prediction <= 0).float().mean()),
                "estimate_mean": float(predicted_sources(prediction.clamp(min=0), mixture, target).mean()),
                "reference_mean": float(reference.mean()),
            })

    buffers = {name: b.clone() for name, b in model.named_buffers()}
    relu_inputs, hooks = {}, []
    for i, head in enumerate(model.heads):
        if isinstance(head, _ConvBNReLU):  # the BatchNorm's output is the ReLU's input
            hooks.append(head[1].register_forward_hook(
                lambda module, args, out, i=i: relu_inputs.__setitem__(i, out.detach())))
    model.train()
    model.zero_grad(set_to_none=True)
    try:
        losses = [(predicted_sources(p, mixture, target) - reference).abs().mean() for p in model(mixture)]
        sum(losses).backward()
        for i, row in enumerate(rows):
            weight = next(model.heads[i].parameters())
            row["loss"] = float(losses[i].detach())
            row["relu_input_positive_fraction"] = (float((relu_inputs[i] > 0).float().mean())
                                                   if i in relu_inputs else np.nan)
            row["head_gradient_norm"] = float(weight.grad.norm()) if weight.grad is not None else 0.0
    finally:
        for hook in hooks:
            hook.remove()
        model.zero_grad(set_to_none=True)
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
        model.train(was_training)
    return rows


class _ActivationLog:
    """activations.csv: one probe_heads row per stack per checkpoint, on a fixed batch of training windows."""

    def __init__(self, path: Path, config: TrainConfig, data_root, windows: int = 8):
        from .dataset import SpectrogramSet

        self.path, self.target = path, config.target
        clips = index_clips(data_root, "train")[: config.max_train_clips]
        data = SpectrogramSet(clips, config.front_end, progress=False)
        draws = data.sampler("uniform", seed=12345).draws(0, windows)
        self.batch = data.batch(draws)

    def __call__(self, step: int, model: torch.nn.Module) -> None:
        device = next(model.parameters()).device
        mixture, accompaniment, voice = (t.to(device) for t in self.batch)
        rows = probe_heads(model, mixture, accompaniment, voice, self.target)
        new = not self.path.is_file()
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, ["step"] + list(rows[0]))
            if new:
                writer.writeheader()
            writer.writerows({"step": step} | row for row in rows)


def read_activations(run_dir: str | os.PathLike) -> pd.DataFrame:
    return pd.read_csv(Path(run_dir) / "activations.csv")


# ---------------------------------------------------------------- running arms

def run_arm(arm: Arm | str, budget: Budget | str = "ablation", log_path=None, runs_dir=RUNS_DIR,
            data_root=None, device: str | None = None, workers: int | None = None, rerun: bool = False,
            progress: bool = True) -> dict:
    """Train (or resume) one arm, score it on the budget's test clips, append its row to the log; returns the row."""
    from .evaluate import evaluate
    from .metrics import summarise
    from .models import build_model, count_parameters
    from .train import CHECKPOINT_NAME, pick_device, read_training_log, train

    arm = ARMS_BY_NAME[arm] if isinstance(arm, str) else arm
    budget = BUDGETS[budget] if isinstance(budget, str) else budget
    config = arm.config(budget)
    log_path = log_path or results_dir(budget.name) / "experiments.csv"
    run_dir = Path(runs_dir) / budget.name / arm.name
    if rerun and run_dir.exists():
        shutil.rmtree(run_dir)
    checkpoint = run_dir / CHECKPOINT_NAME
    probe = _ActivationLog(run_dir / "activations.csv", config, data_root)
    if not checkpoint.is_file():
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "activations.csv").unlink(missing_ok=True)
        torch.manual_seed(config.seed)  # the same initial weights train() starts from
        probe(0, build_model(config.model))
    device = pick_device(device)
    train(config, run_dir, data_root, resume=True, device=str(device), progress=progress, on_checkpoint=probe)

    clips = evaluation_clips(budget, data_root)
    started = time.time()
    evaluation = evaluate(checkpoint, data_root=data_root, clip_ids=clips, workers=workers, progress=progress)
    evaluation.save(run_dir / "eval")
    eval_seconds = time.time() - started

    train_log = read_training_log(run_dir)
    last_probe = read_activations(run_dir).query("step == step.max()").iloc[-1]
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
        "device": describe_device(device), "evaluator": evaluation.evaluator,
        "eval_seconds": round(eval_seconds, 1),
    } | summarise(evaluation.per_clip) | {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"), "torch": torch.__version__,
    }
    append_row(row, log_path)
    return row


def missing_arms(budget: str, log_path=None) -> list[str]:
    done = set(read_experiment_log(log_path or results_dir(budget) / "experiments.csv", budget)["arm"])
    return [arm.name for arm in ARMS if arm.name not in done]


def run_arms(budget: str = "ablation", arms: list[str] | None = None, rerun: bool = False,
             log_path=None, runs_dir=RUNS_DIR, data_root=None, device: str | None = None,
             workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Run the given arms (default: those the log lacks for this budget; all of them with rerun=True); returns the log."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {tuple(BUDGETS)}, not {budget!r}")
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


# ---------------------------------------------------------------- the evaluator question

def _museval_v4(references: np.ndarray, estimates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """museval.metrics.bss_eval with its defaults (v4 "images", 88200-sample windows, hop 66150), median over windows."""
    import museval.metrics

    from .metrics import audible

    estimates = audible(np.asarray(estimates, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        sdr, _, sir, sar, _ = museval.metrics.bss_eval(references[..., None], estimates[..., None])
    return tuple(np.nanmedian(np.where(np.isfinite(m), m, np.nan), axis=1) for m in (sdr, sir, sar))


def _score_with(method: str, references, estimates, mixture) -> dict:
    from .metrics import score_estimates

    if method == "museval v4 (bss_eval defaults)":
        return score_estimates(references, estimates, mixture, metric=_museval_v4)
    return score_estimates(references, estimates, mixture, method.split(" ")[0])


EVALUATOR_METHODS = ["mir_eval v3", "museval v3 (bss_eval_sources)", "fast_bss_eval v3", "museval v4 (bss_eval defaults)"]
INFERENCE_MODES = [("eval", 1), ("eval", 4), ("train", 1), ("train", 4)]


def _question_job(args) -> list[dict]:
    """One clip of the evaluator question: its estimates under each inference mode, scored by each method."""
    checkpoint, clip, question = args
    from .data import load_sources
    from .evaluate import separate_and_score
    from .separate import Separator

    torch.set_num_threads(1)
    sources = load_sources(clip)
    references = np.stack([sources.accompaniment, sources.voice])
    rows = []
    if question == "evaluators":
        estimates = np.stack(Separator.from_checkpoint(checkpoint, device="cpu").separate(sources.mixture, 16000))
        for method in EVALUATOR_METHODS:
            rows.append({"method": method, "clip": clip.id} | _score_with(method, references, estimates, sources.mixture))
    else:
        for mode, batch in INFERENCE_MODES:
            separator = Separator.from_checkpoint(checkpoint, device="cpu", batch_size=batch)
            separator.model.train(mode == "train")  # 'train': BatchNorm normalises with each batch's own statistics
            rows.append({"method": f"BatchNorm {mode} mode, {batch} window{'s' if batch > 1 else ''} per pass",
                         "clip": clip.id} | separate_and_score(separator, sources))
    return rows


def evaluator_question(checkpoint, clip_ids: list[str], question: str = "evaluators", data_root=None,
                       workers: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the same clips several ways; returns (per-clip rows, one summary row per method).

    question='evaluators': one set of estimates, scored by mir_eval, museval and fast_bss_eval (v3
      sources) and by museval's default v4 framewise images metric.
    question='inference': the estimates of each INFERENCE_MODES (BatchNorm in eval or train mode,
      1 or 4 windows per pass), all scored with fast_bss_eval.
    """
    from concurrent.futures import ProcessPoolExecutor

    from .metrics import summarise

    if question not in ("evaluators", "inference"):
        raise ValueError(f"question must be 'evaluators' or 'inference', not {question!r}")
    clips = {c.id: c for c in index_clips(data_root, "test")}
    jobs = [(str(checkpoint), clips[c], question) for c in clip_ids]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    with ProcessPoolExecutor(workers) as pool:
        per_clip = pd.DataFrame([row for rows in pool.map(_question_job, jobs) for row in rows])
    summary = pd.DataFrame([{"method": method} | summarise(group)
                            for method, group in per_clip.groupby("method", sort=False)])
    return per_clip, summary


QUESTION_CLIPS = {"smoke": 2, "ablation": 20, "paper": 100}


def run_evaluator_questions(budget: str = "ablation", folder=None, runs_dir=RUNS_DIR, data_root=None,
                            rerun: bool = False) -> dict[str, pd.DataFrame]:
    """Both evaluator questions on the budget's arms, saved as <question>_<budget>.csv beside the experiment log
    (reused unless rerun).

    'evaluators' scores the base arm; 'inference' the two arms with a BatchNorm head (masks and direct).
    Both use the first QUESTION_CLIPS[budget] of the budget's evaluation clips.
    """
    folder = Path(folder or results_dir(budget))
    clips = evaluation_clips(BUDGETS[budget], data_root)[: QUESTION_CLIPS[budget]]
    tables = {}
    for question, arms in (("evaluators", ["base"]), ("inference", ["masks-report-head", "direct-report-head"])):
        path = folder / f"{question}_{budget}.csv"
        if rerun or not path.is_file():
            summaries = []
            for arm in arms:
                checkpoint = Path(runs_dir) / budget / arm / "checkpoint.pt"
                if not checkpoint.is_file():
                    raise FileNotFoundError(f"{checkpoint} is missing: run the {arm!r} arm first (run_arms)")
                _, summary = evaluator_question(checkpoint, clips, question, data_root)
                summaries.append(summary.assign(budget=budget, arm=arm))
            table = pd.concat(summaries, ignore_index=True)
            table = table[["budget", "arm"] + [c for c in table.columns if c not in ("budget", "arm")]]
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as temporary:
                table.to_csv(temporary, index=False, float_format="%.4f")
        tables[question] = pd.read_csv(path)
    return tables


# ---------------------------------------------------------------- answers

QUESTION_ARMS = {
    "stacks": ["stacks-1", "base", "stacks-4"],
    "channels": ["constant", "base", "constant-wide"],
    "targets": ["base", "voice-only", "accompaniment-only"],
    "direct": ["base", "masks-report-head", "direct-report-head", "direct-linear-head", "direct-linear-head-seed1"],
    "samplers": ["base", "uniform-sampler"],
    "noise": ["base", "base-seed1", "base-seed2"],
}
_SIDE_COLUMNS = ["parameters", "steps", "minutes", "clips"] + METRICS


def side_by_side(question: str, log: pd.DataFrame, report_folder=None) -> pd.DataFrame:
    """Our arms for a question beside the report's runs for it (its log's figures, as it wrote them)."""
    ours = log.set_index("arm").reindex(QUESTION_ARMS.get(question, [])).dropna(how="all").reset_index()
    ours = ours.assign(source="shsep", label=ours["arm"] + ": " + ours["change"], clips=ours["clips_scored"],
                       minutes=ours["train_seconds"] / 60)
    frames = [ours]
    from .report import REPORT_RUNS, report_runs

    if question in REPORT_RUNS:

        try:
            theirs = report_runs(question, report_folder)
        except Exception as error:  # the report's outputs are optional
            print(f"(the report's log is not available: {error})")
        else:
            frames.append(theirs.assign(source="report", steps=theirs["iterations"], clips=theirs["test_clips"],
                                        minutes=np.nan))
    table = pd.concat(frames, ignore_index=True)[["source", "label"] + _SIDE_COLUMNS]
    return table.astype({"parameters": "Int64", "steps": "Int64", "clips": "Int64"})


def run_to_run_spread(log: pd.DataFrame) -> pd.Series:
    """Per metric, max − min over the base arm's seeds (base, base-seed1, ...): what reseeding alone moves."""
    seeds = log[log["arm"].isin(QUESTION_ARMS["noise"])]
    if len(seeds) < 2:
        return pd.Series(np.nan, index=METRICS)
    return (seeds[METRICS].max() - seeds[METRICS].min()).astype(float)


def compare(log: pd.DataFrame, arm: str, reference: str = "base", metric: str = "voice_gnsdr") -> str:
    """One sentence: arm vs reference on a metric, against the run-to-run spread."""
    rows = log.set_index("arm")
    if arm not in rows.index or reference not in rows.index:
        return f"{arm} vs {reference}: not run yet"
    a, b = float(rows.loc[arm, metric]), float(rows.loc[reference, metric])
    spread = float(run_to_run_spread(log)[metric])
    if np.isnan(spread):
        verdict = "(no seed spread measured)"
    elif abs(a - b) <= spread:
        verdict = f"within the {spread:.2f} dB that reseeding alone moves it"
    else:
        verdict = f"{abs(a - b) / spread:.1f}× the {spread:.2f} dB that reseeding alone moves it"
    return f"{arm} {metric} {a:.2f} dB vs {reference} {b:.2f} dB: {a - b:+.2f} dB, {verdict}"
