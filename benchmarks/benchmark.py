"""Speed and memory figures for shsep on this machine, printed as one table (run: python benchmarks/benchmark.py).

Each measurement runs in its own process so its peak memory (max RSS) is its own:
* separation real-time factor, batched windows vs one window at a time (same model, same audio);
* training steps per second for each CPU-sized profile (the GPU profiles with --paper: ~80 s a step here);
* BSS-eval time per clip for museval, mir_eval and fast_bss_eval (same estimates);
* evaluation seconds per clip: every score computed, against the mixture's SDR read from its cache (warm);
* start-up of `shsep --help`: now (only the chosen command builds its arguments) against building every
  command's arguments, as the parser did before;
* `shsep separate` on a 44.1 kHz stereo song built from MIR-1K test clips: seconds of work per minute of
  audio, full band against Park's 8 kHz path (and with the Wiener post-filter), and peak memory on a
  10-minute song (--song-minutes to change).
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
    from shsep.train import read_training_log, train

    config = get_profile(profile)
    with tempfile.TemporaryDirectory() as folder:
        # The first step is warm-up; the log's clock gives the time of the others (data loading excluded).
        train(replace(config, steps=1 + steps, checkpoint_every=10**9), folder, progress=False, device="cpu")
        seconds = read_training_log(folder)["seconds"].to_numpy()
    return {"steps_per_second": steps / (seconds[-1] - seconds[0])}


def _evaluator(name: str) -> dict:
    import numpy as np

    from shsep.data import index_clips, load_sources
    from shsep.metrics import score_estimates

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


def _write_song(path: str, minutes: int) -> dict:
    """A stereo 44.1 kHz song of `minutes` at path: MIR-1K test clips joined, panned (`data.stereo_song`), repeated."""
    import numpy as np
    import soundfile as sf

    from shsep.data import index_clips, stereo_song

    rate = 44100
    song = stereo_song([c.id for c in index_clips(split="test")[:8]], rate).mixture
    song = np.tile(song, (1, int(np.ceil(minutes * 60 * rate / song.shape[1]))))[:, : minutes * 60 * rate]
    sf.write(path, song.T, rate, subtype="PCM_16")
    return {}


def _song(path: str, band: str, wiener: int) -> dict:
    """Separate a song file as `shsep separate` does (in its own process: the peak memory is separation's own)."""
    from pathlib import Path

    import soundfile as sf

    from shsep.predict import separate_file
    from shsep.separate import Separator

    separator = Separator.from_checkpoint(device="cpu")
    start = time.perf_counter()
    separate_file(separator, path, Path(path).parent / f"{band}-{wiener}", band=band, wiener_iterations=wiener,
                  progress=False)
    return {"seconds_per_minute": (time.perf_counter() - start) / (sf.info(path).duration / 60)}


def _evaluation(clips: int, cache: str) -> dict:
    """Evaluate the shipped model on the first test clips with 2 workers, with or without the mixture-SDR cache."""
    import tempfile

    from shsep.evaluate import evaluate

    with tempfile.TemporaryDirectory() as folder:
        import os

        if cache == "cold":
            os.environ["SHSEP_CACHE"] = folder  # an empty cache: every mixture SDR is computed
        start = time.perf_counter()
        evaluate(max_clips=clips, workers=2, progress=False, cache=cache != "off")
        return {"seconds_per_clip": (time.perf_counter() - start) / clips}


def _startup(mode: str) -> dict:
    """Seconds to start Python, import the CLI and answer --help (now), or to build every command's arguments."""
    code = {"now": "from shsep.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
            "every-command": "import argparse\nfrom shsep import cli\n"
                             "[add(argparse.ArgumentParser()) for _, add in cli.SUBCOMMANDS.values()]"}[mode]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return {"seconds": best}


PHASES = {"evaluation": _evaluation, "startup": _startup, "separation": _separation, "training": _training, "evaluator": _evaluator, "song": _song,
          "write_song": _write_song}


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
    parser.add_argument("--song-minutes", type=int, default=10, help="length of the song for the memory figure")
    parser.add_argument("--only", choices=["startup", "evaluation", "separation", "training", "evaluator", "song"],
                        nargs="+",
                        help="run only these parts (default: all)")
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        converted = [int(x) if x.isdigit() else x for x in rest]
        result = PHASES[name](*converted)
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    import torch

    from shsep.machine import describe_machine

    print(f"machine: {describe_machine()}, "
          f"torch {torch.__version__}, python {platform.python_version()}")
    rows = []
    parts = set(args.only or PHASES)
    if "startup" in parts:
        before, after = _run_phase("startup", "every-command"), _run_phase("startup", "now")
        rows.append(("start-up: shsep --help (every command's arguments built)", f"{before['seconds']:.2f} s", "1.00×",
                     float("nan")))  # the memory is the child's, not measured
        rows.append(("start-up: shsep --help (only the chosen command's)", f"{after['seconds']:.2f} s",
                     f"{before['seconds'] / after['seconds']:.1f}× faster", float("nan")))
    if "evaluation" in parts:
        off = _run_phase("evaluation", 40, "off")
        _run_phase("evaluation", 40, "on")  # fills the cache for these clips
        warm = _run_phase("evaluation", 40, "on")
        rows.append(("evaluate 40 test clips, 2 workers: mixture SDR computed", f"{off['seconds_per_clip']:.2f} s/clip",
                     "1.00×", off["peak_rss_mib"]))
        rows.append(("evaluate 40 test clips, 2 workers: mixture SDR cached", f"{warm['seconds_per_clip']:.2f} s/clip",
                     f"{off['seconds_per_clip'] / warm['seconds_per_clip']:.2f}× faster", warm["peak_rss_mib"]))
    if "song" in parts:
        _song_rows(rows, args.song_minutes)
    if "separation" in parts:
        _separation_rows(rows)
    if "training" in parts:
        _training_rows(rows, args)
    if "evaluator" in parts:
        _evaluator_rows(rows)
    print(f"| {'measurement':56} | {'figure':18} | {'ratio':22} | peak RSS |")
    print(f"|{'-' * 58}|{'-' * 20}|{'-' * 24}|----------|")
    for name, figure, ratio, rss in rows:
        print(f"| {name:56} | {figure:18} | {ratio:22} | {rss:5.0f} MiB |")


def _song_rows(rows, long_minutes: int) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        short, long = str(Path(folder) / "song_2min.wav"), str(Path(folder) / f"song_{long_minutes}min.wav")
        _run_phase("write_song", short, 2)
        _run_phase("write_song", long, long_minutes)
        park = _run_phase("song", short, "park", 0)
        rows.append(("separate 2 min 44.1 kHz stereo: park path (mono, <4 kHz)", f"{park['seconds_per_minute']:.2f} s/min",
                     "1.00×", park["peak_rss_mib"]))
        for label, wiener in (("full band, stereo", 0), ("full band + Wiener 1", 1)):
            full = _run_phase("song", short, "full", wiener)
            rows.append((f"separate 2 min 44.1 kHz stereo: {label}", f"{full['seconds_per_minute']:.2f} s/min",
                         f"{full['seconds_per_minute'] / park['seconds_per_minute']:.2f}× park's time",
                         full["peak_rss_mib"]))
        for band, wiener in (("park", 0), ("full", 0), ("full", 1)):
            result = _run_phase("song", long, band, wiener)
            rows.append((f"separate {long_minutes} min: {band}{' + Wiener 1' if wiener else ''} (peak memory)",
                         f"{result['seconds_per_minute']:.2f} s/min", "", result["peak_rss_mib"]))


def _separation_rows(rows) -> None:
    one = _run_phase("separation", 1)
    batched = _run_phase("separation", 16)
    rows.append(("separation, 1 window per pass", f"RTF {one['rtf']:.3f}", "1.00×", one["peak_rss_mib"]))
    rows.append(("separation, 16 windows per pass", f"RTF {batched['rtf']:.3f}", f"{one['rtf'] / batched['rtf']:.2f}× the speed",
                 batched["peak_rss_mib"]))


def _training_rows(rows, args) -> None:
    profiles = ["smoke", "ablation", "cpu"] + (["paper-growing", "paper"] if args.paper else [])
    base = None
    for profile in profiles:
        steps = args.steps if not profile.startswith("paper") else 1
        result = _run_phase("training", profile, steps)
        base = base or result["steps_per_second"]
        rows.append((f"training, profile {profile}", f"{result['steps_per_second']:.3f} steps/s",
                     f"{result['steps_per_second'] / base:.3g}× smoke", result["peak_rss_mib"]))


def _evaluator_rows(rows) -> None:
    reference = None
    for name in ("mir_eval", "museval", "fast_bss_eval"):
        result = _run_phase("evaluator", name)
        reference = reference or result["seconds_per_clip"]
        rows.append((f"BSS-eval {name} ({result['clip_seconds']:.1f} s clips)", f"{result['seconds_per_clip']:.2f} s/clip",
                     f"{reference / result['seconds_per_clip']:.2f}× mir_eval", result["peak_rss_mib"]))

if __name__ == "__main__":
    main()
