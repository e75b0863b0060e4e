"""The paper's own networks on a GPU, end to end: train with the paper's recipe, score the test clips with Park's
protocol on the GPU, write the figures, the speed and the logs.

With your own GPU and MIR-1K (nothing to pack):

    python scripts/paper_gpu.py run --profile paper --out results/paper-gpu       # Park's network and recipe
    python scripts/paper_gpu.py run --profile paper-growing --steps 20000 --sampler uniform --out results/report-gpu
    python scripts/paper_gpu.py collect results/paper-gpu                          # a row in results/experiments.csv

On a lent GPU with a time limit and a 64 MiB upload (docs/gpu_run.md), the clips travel in parts:

    python scripts/paper_gpu.py pack --out .paper        # here: 8 kHz training clips, test clips in parts, wheels
    python scripts/paper_gpu.py receive .paper --store /tmp/mir1k         # there, once per carried part
    python scripts/paper_gpu.py run --data /tmp/mir1k --runs /tmp/runs --out $OUT --seconds 540

`run` trains until the run is finished or --seconds are nearly spent (it then stops at a checkpoint, and the same
command resumes it), scores the finished run on every test clip present, and writes to --out: result.json
(figures, clips scored, GPU, precision, TF32, steps per second, wall clock), summary.json, per_clip.csv,
log.csv, config.json and run.json. The weights stay in --runs (Park's are 65 MiB in float16).
--tiny shrinks the network and the steps, so that the same code runs in seconds on a CPU (tests/test_paper_gpu.py).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

MiB = 1024 * 1024
MARGIN_MIB = 2  # of the upload limit, for the untracked files that travel too
RESULT_FILES = ("config.json", "run.json", "log.csv")
EVALUATION_RESERVE = 120  # seconds kept for scoring the test clips after training, within --seconds
WHEELS = ("soundfile", "cffi", "pycparser", "soxr", "fast-bss-eval")  # what shsep needs that the lent GPU lacks
PURE_PYTHON = ("fast-bss-eval",)  # published as source only: built into a wheel here


def pack(out: Path, upload_mib: float, wheels: bool, data=None) -> None:
    """Training clips at Park's 8 kHz in out/train, the present test clips as they are in out/test-1, -2, ...;
    each part (the first with the training clips and the wheels for the GPU's Python) travels beside the
    repository's own files within upload_mib."""
    from shsep.data import index_clips, write_resampled_clips
    from shsep.spectrogram import PARK

    if out.exists():
        shutil.rmtree(out)
    write_resampled_clips(index_clips(data, "train"), out / "train" / "MIR-1K" / "Wavfile", PARK.sample_rate)
    used = sum(p.stat().st_size for p in (out / "train").rglob("*") if p.is_file())
    if wheels:
        _download_wheels(out / "wheels")
        used += sum(p.stat().st_size for p in (out / "wheels").iterdir())
    room = upload_mib * MiB - _tracked_bytes() - MARGIN_MIB * MiB
    parts, size = [[]], used
    for clip in index_clips(data, "test"):
        clip_size = clip.path.stat().st_size
        if size + clip_size > room and parts[-1]:
            parts.append([])
            size = 0
        parts[-1].append(clip)
        size += clip_size
    for number, clips in enumerate(parts, start=1):
        folder = out / f"test-{number}" / "MIR-1K" / "Wavfile"
        folder.mkdir(parents=True)
        for clip in clips:
            shutil.copyfile(clip.path, folder / clip.path.name)
    manifest = {"training_clips": len(index_clips(data, "train")), "test_parts": [len(p) for p in parts]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"packed {manifest['training_clips']} training clips at {PARK.sample_rate} Hz and "
          f"{sum(manifest['test_parts'])} test clips in {len(parts)} parts of {manifest['test_parts']} clips "
          f"(carry train{' and wheels' if wheels else ''} with test-1, then each other part alone)")


def _tracked_bytes() -> int:
    """The size of the repository's tracked files, which travel with every call to a lent GPU."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True)
    names = listed.stdout.split("\0") if listed.returncode == 0 else []
    return sum((root / n).stat().st_size for n in names if n and (root / n).is_file())


def _download_wheels(folder: Path) -> None:
    """Wheels for the lent GPU's Python 3.12 (x86-64): binary ones downloaded, pure-Python ones built here."""
    import subprocess

    platforms = [f"--platform={p}" for p in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")]
    for name in WHEELS:
        if name in PURE_PYTHON:
            command = ["wheel", "-q", "--no-deps", "-w", str(folder), name]
        else:
            command = ["download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
                       "--implementation", "cp", *platforms, "-d", str(folder), name]
        subprocess.run([sys.executable, "-m", "pip", *command], check=True)


def receive(carried: Path, store: Path) -> None:
    """Merge every part carried in `carried` (train, test-N) into one MIR-1K folder under store."""
    target = store / "MIR-1K" / "Wavfile"
    target.mkdir(parents=True, exist_ok=True)
    for part in sorted(carried.glob("*/MIR-1K/Wavfile")):
        for path in part.iterdir():
            shutil.copyfile(path, target / path.name)
    print(f"{store / 'MIR-1K'}: {len(list(target.iterdir()))} clips")


def run(profile: str, data, runs: Path, out: Path, seconds: float, overrides: dict, tiny: bool,
        device: str | None) -> dict:
    """Train (resuming) within `seconds`, then score the finished run on the test clips; write the results."""
    import torch

    from shsep.evaluate import evaluate
    from shsep.metrics import format_summary
    from shsep.profiles import get_profile
    from shsep.train import pick_device, read_training_log, train

    started = time.time()
    device = pick_device(device)
    tf32 = device.type == "cuda"
    if tf32:  # fp32 matrix work (the evaluation's network) in TF32; training itself runs in bf16 autocast
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if tiny:
        overrides = {"channels": 8, "stacks": 2, "depth": 2, "growth": 0, "steps": 4, "checkpoint_every": 2,
                     "decay_step": 3} | overrides
    config = get_profile(profile, **overrides)
    name = f"{profile}-gpu" if not tiny else f"{profile}-tiny"
    run_dir = runs / name
    deadline = started + seconds - EVALUATION_RESERVE
    checkpoint = train(config, run_dir, data_root=data, resume=True, device=str(device), deadline=deadline,
                       progress=True)
    log = read_training_log(run_dir)
    steps_done = int(log["step"].iloc[-1])
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (no GPU)"
    result = {"run": name, "profile": profile, "overrides": overrides, "device": gpu, "precision": "bf16 autocast"
              if device.type == "cuda" else "fp32", "tf32": tf32, "torch_compile": False, "channels_last": True,
              "steps": steps_done, "steps_planned": config.steps,
              "train_seconds": round(float(log["seconds"].iloc[-1]), 1),
              "steps_per_second": round(steps_done / float(log["seconds"].iloc[-1]), 3)}
    out.mkdir(parents=True, exist_ok=True)
    for file_name in RESULT_FILES:
        shutil.copyfile(run_dir / file_name, out / file_name)
    if steps_done < config.steps:
        result["finished"] = False
        print(f"stopped at step {steps_done} of {config.steps} for the time limit: the same command resumes it")
    else:
        result["finished"] = True
        scoring = time.time()
        evaluation = evaluate(checkpoint, "test", data, device=str(device) if device.type == "cuda" else None,
                              progress=True)
        evaluation.save(out)
        summary = evaluation.summary()
        print(format_summary(summary))
        result |= {"eval_seconds": round(time.time() - scoring, 1), "clips_scored": summary["clips_scored"]}
        result |= {k: summary[k] for k in summary if k.split("_")[0] in ("voice", "accompaniment")}
    result["wall_seconds"] = round(time.time() - started, 1)
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("device", "steps", "steps_per_second", "wall_seconds")}))
    return result


def collect(results: Path, log_path=None) -> dict:
    """Log a finished GPU run (its result folder, brought back) in results/experiments.csv."""
    from shsep.experiments import log_training_run

    result = json.loads((results / "result.json").read_text())
    if not result.get("finished"):
        raise SystemExit(f"{results}: the run stopped at step {result['steps']} of {result['steps_planned']}; "
                         "resume it before logging it")
    change = ", ".join([f"profile {result['profile']}"] + [f"{k} {v}" for k, v in result["overrides"].items()]
                       + [f"on a GPU ({result['device']}, {result['precision']})"])
    row = log_training_run(results, change, test=True, test_scores=results, log_path=log_path, arm=result["run"],
                           extra={"steps_per_second": result["steps_per_second"], "gpu": result["device"]})
    print(f"logged {row['arm']}: {row['clips_scored']} test clips, voice {row['voice_gnsdr']:.2f} / accompaniment "
          f"{row['accompaniment_gnsdr']:.2f} dB GNSDR")
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pack", help="here: the clips that travel to a lent GPU, in parts")
    p.add_argument("--out", type=Path, default=Path(".paper"))
    p.add_argument("--upload-mib", type=float, default=64, help="what one call may carry, the repository's tracked "
                   "files included (default: the lent GPU's 64)")
    p.add_argument("--no-wheels", action="store_true", help="the GPU machine has soundfile, soxr and fast_bss_eval")
    p.add_argument("--data", help="MIR-1K folder (default: the usual places, see the README)")
    p = commands.add_parser("receive", help="there: merge the carried parts into one MIR-1K folder")
    p.add_argument("carried", type=Path)
    p.add_argument("--store", type=Path, required=True)
    p = commands.add_parser("run", help="train within --seconds (resuming), then score the test clips")
    p.add_argument("--profile", default="paper", choices=["paper", "paper-growing"])
    p.add_argument("--data", help="MIR-1K folder (default: the usual places, see the README)")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="where the run folder (weights) stays")
    p.add_argument("--out", type=Path, required=True, help="where the results are written")
    p.add_argument("--seconds", type=float, default=float("inf"), help="stop training this long after the start, "
                   f"less {EVALUATION_RESERVE} s for the scoring")
    p.add_argument("--steps", type=int)
    p.add_argument("--sampler", choices=["clip-then-start", "uniform"])
    p.add_argument("--tiny", action="store_true", help="a tiny network and 4 steps: the same code on a CPU")
    p.add_argument("--device")
    p = commands.add_parser("collect", help="here: log a result folder brought back")
    p.add_argument("results", type=Path)
    args = parser.parse_args(argv)
    if args.command == "pack":
        pack(args.out, args.upload_mib, wheels=not args.no_wheels, data=args.data)
    elif args.command == "receive":
        receive(args.carried, args.store)
    elif args.command == "run":
        overrides = {k: v for k, v in (("steps", args.steps), ("sampler", args.sampler)) if v is not None}
        run(args.profile, args.data, args.runs, args.out, args.seconds, overrides, args.tiny, args.device)
    else:
        collect(args.results)


if __name__ == "__main__":
    main()
