"""Speed and memory figures for shsep on this machine, printed as one table (run: python benchmarks/benchmark.py).

Each measurement runs in its own process so its peak memory (max RSS) is its own:
* separation real-time factor, batched windows vs one window at a time (same model, same audio);
* training steps per second for each CPU-sized profile (the GPU profiles with --paper: ~80 s a step here);
* BSS-eval time per clip for museval, mir_eval and fast_bss_eval (same estimates).
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time


def _separation(batch_size: int) -> dict:
    import numpy as np

    from shsep.data import index_clips, load_sources
    from shsep.separate import Separator

    clips = [c for c in index_clips(split="test")][:6]
    mixture = np.concatenate([load_sources(c).mixture for c in clips])
    separator = Separator.from_checkpoint(device="cpu", batch_size=batch_size)
    separator.separate(mixture[:16000], 16000)  # warm-up
    start = time.perf_counter()
    separator.separate(mixture, 16000)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "audio_seconds": len(mixture) / 16000, "rtf": seconds / (len(mixture) / 16000)}


def _training(profile: str, steps: int) -> dict:
    import tempfile
    from dataclasses import replace

    from shsep.profiles import get_profile
    from shsep.train import read_log, train

    config = get_profile(profile)
    with tempfile.TemporaryDirectory() as folder:
        # The first step is warm-up; the log's clock gives the time of the others (data loading excluded).
        train(replace(config, steps=1 + steps, checkpoint_every=10**9), folder, progress=False, device="cpu")
        seconds = read_log(folder)["seconds"].to_numpy()
    return {"steps_per_second": steps / (seconds[-1] - seconds[0])}


def _evaluator(name: str) -> dict:
    import numpy as np

    from shsep.data import index_clips, load_sources
    from shsep.evaluate import score_estimates

    clips = index_clips(split="test")[:3]
    total, audio = 0.0, 0.0
    for clip in clips:
        s = load_sources(clip)
        references = np.stack([s.accompaniment, s.voice])
        estimates = 0.8 * references + 0.2 * s.mixture
        start = time.perf_counter()
        score_estimates(references, estimates, s.mixture, name)
        total += time.perf_counter() - start
        audio += len(s.mixture) / 16000
    return {"seconds_per_clip": total / len(clips), "clip_seconds": audio / len(clips)}


PHASES = {"separation": _separation, "training": _training, "evaluator": _evaluator}


def _run_phase(phase: str, *args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--paper", action="store_true", help="also time one step of the paper profiles")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per profile")
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        converted = [int(x) if x.isdigit() else x for x in rest]
        result = PHASES[name](*converted)
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    import torch

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, python {platform.python_version()}")
    rows = []
    one = _run_phase("separation", 1)
    batched = _run_phase("separation", 16)
    rows.append(("separation, 1 window per pass", f"RTF {one['rtf']:.3f}", "1.00×", one["peak_rss_mib"]))
    rows.append(("separation, 16 windows per pass", f"RTF {batched['rtf']:.3f}", f"{one['rtf'] / batched['rtf']:.2f}× the speed",
                 batched["peak_rss_mib"]))
    profiles = ["smoke", "ablation", "cpu"] + (["paper-growing", "paper"] if args.paper else [])
    base = None
    for profile in profiles:
        steps = args.steps if not profile.startswith("paper") else 1
        result = _run_phase("training", profile, steps)
        base = base or result["steps_per_second"]
        rows.append((f"training, profile {profile}", f"{result['steps_per_second']:.3f} steps/s",
                     f"{result['steps_per_second'] / base:.3g}× smoke", result["peak_rss_mib"]))
    reference = None
    for name in ("mir_eval", "museval", "fast_bss_eval"):
        result = _run_phase("evaluator", name)
        reference = reference or result["seconds_per_clip"]
        rows.append((f"BSS-eval {name} ({result['clip_seconds']:.1f} s clips)", f"{result['seconds_per_clip']:.2f} s/clip",
                     f"{reference / result['seconds_per_clip']:.2f}× mir_eval", result["peak_rss_mib"]))
    print(f"| {'measurement':44} | {'figure':18} | {'ratio':18} | peak RSS |")
    print(f"|{'-' * 46}|{'-' * 20}|{'-' * 20}|----------|")
    for name, figure, ratio, rss in rows:
        print(f"| {name:44} | {figure:18} | {ratio:18} | {rss:5.0f} MiB |")


if __name__ == "__main__":
    main()
