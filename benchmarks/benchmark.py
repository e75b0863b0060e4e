"""Speed and memory figures for shsep on this machine, printed as one table (run: python benchmarks/benchmark.py).

Each measurement runs in its own process so its peak memory (max RSS) is its own:
* separation real-time factor, batched windows vs one window at a time (same model, same audio);
* training steps (and windows) per second for each CPU-sized profile, the cpu recipe in fp32 and with its
  automatic precision choice (bf16 where the start-up probe finds it faster); the GPU profiles with --paper;
* training steps under torch.compile against eager (the cpu recipe at its precision, and its budget network in
  fp32), alternating rounds in one process, the same batches;
* the budget network's training step (what `--time-budget` trains without native bf16), fp32: batches of 4, 2 and
  1 window, and 4 with its full-resolution 3×3 convolutions depthwise-separable, alternating rounds, the best of each;
* BSS-eval time per clip for museval, mir_eval and fast_bss_eval (same estimates);
* evaluation seconds per clip, before against now: the mixture's SDR computed or read from its cache (warm),
  the network in fp32 (Park's protocol) or with --precision auto (bf16 where native);
* start-up of `shsep --help`: now (only the chosen command builds its arguments) against building every
  command's arguments, as the parser did before; and `shsep separate` on a 0.01 s file, the network in
  PyTorch against the default int8 path (no torch import);
* `shsep separate` on a 44.1 kHz stereo song built from MIR-1K test clips: seconds of work per minute of
  audio, full band against Park's 8 kHz path (Park's windows or long ones, fp32 or bf16, with the Wiener
  post-filter), and peak memory on a 10-minute song (--song-minutes to change);
* stages: where `shsep separate`'s time goes (decode, resample, STFTs, network, masks, synthesis, write);
* peers (only with --only peers, after benchmarks/setup_peers.sh): whole commands on the same song, start-up,
  reading and writing included: `shsep separate` with its defaults, with the network in PyTorch, and (where
  the defaults run the int8 network in OpenVINO) with it in ONNX Runtime, against
  Open-Unmix `umxl` and HTDemucs (random weights, their own separation code), alternating, best of --rounds.
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


def _training(profile: str, steps: int, precision: str = "") -> dict:
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    from shsep.profiles import get_profile
    from shsep.train import read_training_log, train

    config = replace(get_profile(profile), validation_songs=())
    if precision:
        config = replace(config, precision=precision)
    with tempfile.TemporaryDirectory() as folder:
        # The first step is warm-up; the log's clock gives the time of the others (data loading excluded).
        train(replace(config, steps=1 + steps, checkpoint_every=10**9), folder, progress=False, device="cpu")
        seconds = read_training_log(folder)["seconds"].to_numpy()
        chosen = json.loads((Path(folder) / "run.json").read_text())["precision"]
    return {"steps_per_second": steps / (seconds[-1] - seconds[0]), "precision": chosen,
            "windows_per_step": config.batch_size}


def _training_compiled(network: str, steps: int, rounds: int = 3) -> dict:
    """Seconds per training step of the cpu recipe (network "cpu", at its precision) or of its budget network in
    fp32 ("cpu-budget"), eager against torch.compile: the training loop's own model, optimiser, weight average and
    channels-last batches, the same batches for both, alternating rounds, the best of each."""
    from contextlib import nullcontext
    from dataclasses import replace

    import torch

    from shsep.data import index_clips
    from shsep.dataset import TrainingBatches
    from shsep.profiles import get_profile
    from shsep.train.budget import budget_recipe
    from shsep.train.loop import _fresh_model, _place
    from shsep.train.step import pick_precision

    config = get_profile("cpu", validation_songs=())
    if network == "cpu-budget":  # as a time budget trains it: its loss, its batch size
        config = budget_recipe(replace(config, precision="fp32"))
    device = torch.device("cpu")
    data = TrainingBatches(index_clips(None, "train")[:12], config.front_end, config.sampler, config.seed,
                           progress=False, **config.augmentation())
    setups = {}
    for mode in ("eager", "compile"):
        model, optimizer, average = _fresh_model(config, device)
        net, batch_at = _place(model, data, config, device, 0, 1)
        setups[mode] = (model, torch.compile(model) if mode == "compile" else net, optimizer, average)
    batches = [batch_at(k) for k in range(8)]
    precision = pick_precision(setups["eager"][0], batches[0][0], config.precision, device)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
    steppers = {mode: _stepper(net, model, optimizer, average, batches, autocast, config)
                for mode, (model, net, optimizer, average) in setups.items()}
    best = _best_of_alternating_rounds(steppers, steps, rounds)  # compile's warm-up includes compiling
    return {"precision": precision} | {f"{mode}_seconds_per_step": seconds for mode, seconds in best.items()}


def _stepper(net, model, optimizer, average, batches, autocast, config):
    """step(k): the training loop's step on the k-th of `batches` (cycled)."""
    from shsep.train.step import training_step

    return lambda k: training_step(net, model, optimizer, average, batches[k % len(batches)], autocast, config)


def _best_of_alternating_rounds(steppers: dict, steps: int, rounds: int) -> dict:
    """Seconds per step of each stepper (name -> step(k)): 3 warm-up steps each, then `rounds` rounds of `steps`
    steps, the steppers alternating within each round (other load on the machine hits them alike); the best round."""
    for step in steppers.values():
        for k in range(3):
            step(k)
    best = {name: float("inf") for name in steppers}
    for _ in range(rounds):
        for name, step in steppers.items():
            start = time.perf_counter()
            for k in range(steps):
                step(k)
            best[name] = min(best[name], (time.perf_counter() - start) / steps)
    return best


def _budget_steps(steps: int, rounds: int = 3) -> dict:
    """Seconds per fp32 training step of the cpu profile's budget network (what `--time-budget` trains where bf16
    is not native), as the training loop runs it (its model, Adam, weight average, channels-last batches of real
    windows): on batches of 4 (the profile's), 2 and 1 window, and on batches of 4 with every 3×3 convolution at
    full resolution (the stem's and each stack's) made depthwise-separable (`_separable_at_full_resolution`),
    alternating rounds, the best of each."""
    from contextlib import nullcontext
    from dataclasses import replace

    import torch

    from shsep.data import index_clips
    from shsep.dataset import TrainingBatches
    from shsep.profiles import get_profile
    from shsep.train.budget import budget_recipe
    from shsep.train.loop import _fresh_model, _place
    from shsep.train.step import WeightAverage

    budget = budget_recipe(get_profile("cpu", validation_songs=(), precision="fp32"))
    device = torch.device("cpu")
    data = TrainingBatches(index_clips(None, "train")[:12], budget.front_end, budget.sampler, budget.seed,
                           progress=False, **budget.augmentation())
    steppers = {}
    for name, batch_size, separable in (("batch4", 4, False), ("batch2", 2, False), ("batch1", 1, False),
                                        ("batch4_separable", 4, True)):
        config = replace(budget, batch_size=batch_size)
        model, optimizer, average = _fresh_model(config, device)
        if separable:
            _separable_at_full_resolution(model)
            optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
            average = WeightAverage(model, config.ema_decay)
        net, batch_at = _place(model, data, config, device, 0, 1)
        steppers[name] = _stepper(net, model, optimizer, average, [batch_at(k) for k in range(8)], nullcontext(),
                                  config)
    best = _best_of_alternating_rounds(steppers, steps, rounds)
    return {f"{name}_seconds_per_step": seconds for name, seconds in best.items()}


def _separable_at_full_resolution(model) -> None:
    """Every 3×3 convolution of a 'park' network that runs at full resolution (the stem's after its first, each
    hourglass's skip branch and each stack's feature layer) replaced, in place, by a depthwise 3×3 convolution and
    a pointwise 1×1 one (a benchmark variant: the network was never trained so)."""
    from torch import nn

    def separable(convolution: nn.Conv2d) -> nn.Sequential:
        channels = convolution.in_channels
        return nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
                             nn.Conv2d(channels, convolution.out_channels, 1))

    layers = [model.stem[i] for i in range(1, len(model.stem))]
    layers += [hourglass.up1 for hourglass in model.hourglasses] + [features[0] for features in model.features]
    for layer in layers:
        layer[0] = separable(layer[0])


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


def _song(path: str, band: str, wiener: int, windowing: str = "long", precision: str = "auto") -> dict:
    """Separate a song file as `shsep separate` does (in its own process: the peak memory is separation's own),
    timing each stage (`shsep.stages`). The defaults are `shsep separate`'s."""
    from pathlib import Path

    import soundfile as sf

    from shsep.memory import reuse_freed_memory
    from shsep.predict import separate_file
    from shsep.separate import Separator
    from shsep.stages import collecting

    reuse_freed_memory(keep_heap=not wiener)  # as `shsep separate` does
    separator = Separator.from_checkpoint(device="cpu", windowing=windowing, precision=precision)
    with collecting() as stages:
        start = time.perf_counter()
        separate_file(separator, path, Path(path).parent / f"{band}-{wiener}-{windowing}", band=band,
                      wiener_iterations=wiener, progress=False)
        seconds = time.perf_counter() - start
    minutes = sf.info(path).duration / 60
    return {"seconds": seconds, "seconds_per_minute": seconds / minutes, "stages": stages,
            "precision": separator.precision}


def _tiny_file_rows(rows) -> None:
    """`shsep separate` on a 0.01 s file, a whole command: the fixed cost of a process, network in PyTorch
    against the default (int8 in ONNX Runtime, which never imports torch)."""
    import tempfile
    from pathlib import Path

    import numpy as np
    import soundfile as sf

    with tempfile.TemporaryDirectory() as folder:
        tiny = str(Path(folder) / "tiny.wav")
        sf.write(tiny, np.zeros((441, 2), np.float32), 44100)
        base = [sys.executable, "-m", "shsep.cli", "separate", tiny, "-o", folder]
        torch_run = min((_whole_command(base + ["--precision", _torch_precision()]) for _ in range(3)),
                        key=lambda r: r["seconds"])
        default = min((_whole_command(base) for _ in range(3)), key=lambda r: r["seconds"])
    rows.append((f"start-up: separate a 0.01 s file, network in PyTorch ({_torch_precision()})",
                 f"{torch_run['seconds']:.2f} s", "1.00×", torch_run["peak_rss_mib"]))
    rows.append(("start-up: separate a 0.01 s file, defaults (int8, no torch)", f"{default['seconds']:.2f} s",
                 f"{torch_run['seconds'] / default['seconds']:.1f}× faster", default["peak_rss_mib"]))


def _evaluation(clips: int, cache: str, precision: str = "fp32") -> dict:
    """Evaluate the shipped model on the first test clips with 2 workers: with the mixture-SDR cache ("on") or
    without ("off"), the network in fp32 (Park's protocol) or with --precision auto."""
    from shsep.evaluate import evaluate

    start = time.perf_counter()
    evaluation = evaluate(max_clips=clips, workers=2, progress=False, cache=cache == "on", precision=precision)
    return {"seconds_per_clip": (time.perf_counter() - start) / clips, "precision": evaluation.precision}


def _startup(mode: str) -> dict:
    """Seconds to start Python, import the CLI and answer --help (now), or to build every command's arguments."""
    code = {"now": "from shsep.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
            "every-command": "import argparse\nfrom shsep import cli_args\n"
                             "[add(argparse.ArgumentParser()) for _, add in cli_args.SUBCOMMANDS.values()]"}[mode]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return {"seconds": best}


PHASES = {"evaluation": _evaluation, "startup": _startup, "separation": _separation, "training": _training,
          "training_compiled": _training_compiled, "budget_steps": _budget_steps, "evaluator": _evaluator,
          "song": _song, "write_song": _write_song}


# peers (needs benchmarks/setup_peers.sh), torch.compile (minutes of compiling) and the budget network's step
# variants: only when asked
ONLY_WHEN_ASKED = ("training_compiled", "budget_steps")


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
    parser.add_argument("--peer-minutes", type=int, default=5, help="length of the song the peers separate")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of shsep and each peer (best of)")
    parser.add_argument("--peers", nargs="+", default=["umxl", "htdemucs"], help="peers to time (benchmarks/peers.py)")
    parser.add_argument("--only", choices=["startup", "evaluation", "separation", "training", "training_compiled",
                                           "budget_steps",
                                           "evaluator", "song", "stages", "peers"],
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
          f"torch {torch.__version__}, python {platform.python_version()}, "
          f"int8 network in {_default_int8_runtime()}")
    rows = []
    parts = set(args.only or [name for name in PHASES if name not in ONLY_WHEN_ASKED] + ["stages"])
    if "startup" in parts:
        before, after = _run_phase("startup", "every-command"), _run_phase("startup", "now")
        rows.append(("start-up: shsep --help (every command's arguments built)", f"{before['seconds']:.2f} s", "1.00×",
                     float("nan")))  # the memory is the child's, not measured
        rows.append(("start-up: shsep --help (only the chosen command's)", f"{after['seconds']:.2f} s",
                     f"{before['seconds'] / after['seconds']:.1f}× faster", float("nan")))
        _tiny_file_rows(rows)
    if "evaluation" in parts:
        _run_phase("evaluation", 40, "on")  # fills the cache for these clips
        variants = [("before: mixture SDR computed", "off", "fp32"),
                    ("now: mixture SDR cached (shsep evaluate)", "on", "fp32"),
                    ("now + --precision auto", "on", "auto")]
        before = None
        for label, *options in variants:
            result = _run_phase("evaluation", 40, *options)
            before = before or result["seconds_per_clip"]
            rows.append((f"evaluate 40 clips, 2 workers: {label} ({result['precision']})",
                         f"{result['seconds_per_clip']:.2f} s/clip",
                         f"{before / result['seconds_per_clip']:.2f}× faster", result["peak_rss_mib"]))
    if "song" in parts:
        _song_rows(rows, args.song_minutes)
    if "stages" in parts:
        _stage_table()
    if "peers" in parts:
        _peer_rows(rows, args)
    if "separation" in parts:
        _separation_rows(rows)
    if "training" in parts:
        _training_rows(rows, args)
    if "training_compiled" in parts:
        _compiled_training_rows(rows, args)
    if "budget_steps" in parts:
        _budget_step_rows(rows, args)
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
        park = _run_phase("song", short, "park", 0, "park", "fp32")
        rows.append(("separate 2 min 44.1 kHz stereo: park path, Park's windows", f"{park['seconds_per_minute']:.2f} s/min",
                     "1.00×", park["peak_rss_mib"]))
        for label, options in (("full band, Park's windows, fp32", ("full", 0, "park", "fp32")),
                               ("full band, long windows, fp32", ("full", 0, "long", "fp32")),
                               ("full band, long windows, bf16", ("full", 0, "long", "bf16")),
                               ("full band, long windows, auto (default)", ("full", 0, "long", "auto")),
                               ("full band + Wiener 1, long, auto", ("full", 1, "long", "auto"))):
            full = _run_phase("song", short, *options)
            rows.append((f"separate 2 min: {label}", f"{full['seconds_per_minute']:.2f} s/min",
                         f"{park['seconds_per_minute'] / full['seconds_per_minute']:.2f}× the speed ({full['precision']})",
                         full["peak_rss_mib"]))
        for band, wiener in (("park", 0), ("full", 0), ("full", 1)):
            result = _run_phase("song", long, band, wiener)
            rows.append((f"separate {long_minutes} min: {band}{' + Wiener 1' if wiener else ''} (peak memory)",
                         f"{result['seconds_per_minute']:.2f} s/min", "", result["peak_rss_mib"]))


def _stage_table() -> None:
    """Where the time of `shsep separate`'s default path goes, stage by stage, on a 2-minute song."""
    import tempfile
    from pathlib import Path

    from shsep.stages import STAGES

    with tempfile.TemporaryDirectory() as folder:
        song = str(Path(folder) / "song_2min.wav")
        _run_phase("write_song", song, 2)
        before = _run_phase("song", song, "full", 0, "park", "fp32")
        after = _run_phase("song", song, "full", 0, "long", "auto")
    print(f"\nstages of `shsep separate` on a 2-minute 44.1 kHz stereo song (seconds per minute of audio): "
          f"Park's windows in fp32 against the default (long windows, {after['precision']})")
    print(f"| {'stage':14} | {'Park, fp32':>10} | {'default':>10} |")
    print(f"|{'-' * 16}|{'-' * 12}|{'-' * 12}|")
    for stage in STAGES + ("other", "total"):
        values = []
        for result in (before, after):
            minutes = result["seconds"] / result["seconds_per_minute"]
            seconds = {"other": result["seconds"] - sum(result["stages"].values()),
                       "total": result["seconds"]}.get(stage, result["stages"].get(stage, 0.0))
            values.append(seconds / minutes)
        print(f"| {stage:14} | {values[0]:10.3f} | {values[1]:10.3f} |")
    print()


def _whole_command(command: list[str]) -> dict:
    """Wall-clock seconds and peak resident memory of one command in its own process, start-up included: what a
    user waits for. Its output goes to a file, so that a chatty command cannot block on a full pipe."""
    import os
    import tempfile

    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=output)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status):
            output.seek(0)
            raise RuntimeError(f"{command} failed: {output.read().decode()[-2000:]}")
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024}


def _peer_commands(song: str, folder: str, peers: list[str]) -> dict[str, list[str]]:
    """The commands timed against each other: `shsep separate` with its defaults (the two shipped models
    averaged), with the songs model alone, with the int8 networks in the other runtime where it is installed, and
    with the networks in PyTorch (bf16 where native, else fp32), and each peer's own separation code in the peers'
    environment."""
    import os
    from importlib.util import find_spec
    from pathlib import Path

    from shsep.paths import SONGS_MODEL

    shsep = [sys.executable, "-m", "shsep.cli", "separate", song]
    python = os.environ.get("SHSEP_PEERS_PYTHON", str(Path(__file__).parent.parent / ".venv-peers" / "bin" / "python"))
    torch_precision = _torch_precision()
    commands = {SHSEP_DEFAULTS: shsep + ["-o", f"{folder}/defaults"],
                "shsep separate --checkpoint songs.pt (one model)": shsep + ["-o", f"{folder}/one",
                                                                             "--checkpoint", str(SONGS_MODEL)],
                f"shsep separate --precision {torch_precision}": shsep + ["-o", f"{folder}/torch",
                                                                         "--precision", torch_precision]}
    other = {"openvino": "onnxruntime", "onnxruntime": "openvino"}[_default_int8_runtime()]
    if find_spec(other) is not None:  # the int8 network in the other runtime, for the ratio between them
        commands[f"shsep separate --int8-runtime {other}"] = shsep + ["-o", f"{folder}/{other}",
                                                                       "--int8-runtime", other]
    for name in peers:
        commands[name] = [python, str(Path(__file__).parent / "peers.py"), name, song, str(Path(folder) / name)]
    return commands


SHSEP_DEFAULTS = "shsep separate (defaults)"


def _default_int8_runtime() -> str:
    from shsep.networks import int8_runtime

    return int8_runtime("auto")


def _torch_precision() -> str:
    """What `--precision auto` runs where no int8 export is at hand: bf16 where native, else fp32."""
    from shsep.networks import resolve_precision

    return resolve_precision("auto", "cpu")


def _peer_rows(rows, args) -> None:
    """shsep separate against the peers on the same song, each a whole command (start-up, reading and writing
    included), alternating, best of args.rounds each."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        song = str(Path(folder) / f"song_{args.peer_minutes}min.wav")
        _run_phase("write_song", song, args.peer_minutes)
        commands = _peer_commands(song, folder, args.peers)
        best = {}
        for _ in range(args.rounds):
            for name, command in commands.items():
                result = _whole_command(command)
                if name not in best or result["seconds"] < best[name]["seconds"]:
                    best[name] = result
    seconds = args.peer_minutes * 60
    shsep = best[SHSEP_DEFAULTS]
    for name, result in best.items():
        lead = result["seconds"] / shsep["seconds"]  # the defaults against this command
        ratio = (f"{seconds / result['seconds']:.0f}× real time" if name == SHSEP_DEFAULTS else
                 f"shsep {lead:.2f}× faster" if lead >= 1 else f"shsep {1 / lead:.2f}× slower")
        rows.append((f"{args.peer_minutes} min song, whole command: {name}", f"{result['seconds']:.2f} s", ratio,
                     result["peak_rss_mib"]))


def _separation_rows(rows) -> None:
    one = _run_phase("separation", 1)
    batched = _run_phase("separation", 16)
    rows.append(("separation, 1 window per pass", f"RTF {one['rtf']:.3f}", "1.00×", one["peak_rss_mib"]))
    rows.append(("separation, 16 windows per pass", f"RTF {batched['rtf']:.3f}", f"{one['rtf'] / batched['rtf']:.2f}× the speed",
                 batched["peak_rss_mib"]))


def _training_rows(rows, args) -> None:
    runs = [("smoke", ""), ("ablation", ""), ("cpu-park-recipe", ""), ("cpu", "fp32"), ("cpu", "auto")]
    runs += [("paper-growing", ""), ("paper", "")] if args.paper else []
    base = None
    for profile, precision in runs:
        steps = args.steps if not profile.startswith("paper") else 1
        result = _run_phase("training", profile, steps, *([precision] if precision else []))
        base = base or result["steps_per_second"]
        label = f"training, profile {profile}" + (f" ({precision} -> {result['precision']})" if precision else "")
        rows.append((label, f"{result['steps_per_second']:.3f} steps/s",
                     f"{result['windows_per_step'] * result['steps_per_second']:.1f} windows/s", result["peak_rss_mib"]))


def _compiled_training_rows(rows, args) -> None:
    for network in ("cpu", "cpu-budget"):
        result = _run_phase("training_compiled", network, args.steps)
        eager, compiled = result["eager_seconds_per_step"], result["compile_seconds_per_step"]
        label = f"training step, {network} ({result['precision']})"
        rows.append((f"{label}, eager", f"{eager:.3f} s/step", "1.00×", float("nan")))
        rows.append((f"{label}, torch.compile", f"{compiled:.3f} s/step",
                     f"{eager / compiled:.2f}×", float("nan")))


def _budget_step_rows(rows, args) -> None:
    result = _run_phase("budget_steps", args.steps)
    base = result["batch4_seconds_per_step"]
    labels = {"batch4": "4 windows (the profile's)", "batch2": "2 windows", "batch1": "1 window",
              "batch4_separable": "4 windows, full-res 3×3 separable"}
    for name, label in labels.items():
        seconds = result[f"{name}_seconds_per_step"]
        rows.append((f"budget step fp32, {label}", f"{seconds:.3f} s/step",
                     f"{base / seconds:.2f}× the steps", float("nan")))


def _evaluator_rows(rows) -> None:
    reference = None
    for name in ("mir_eval", "museval", "fast_bss_eval"):
        result = _run_phase("evaluator", name)
        reference = reference or result["seconds_per_clip"]
        rows.append((f"BSS-eval {name} ({result['clip_seconds']:.1f} s clips)", f"{result['seconds_per_clip']:.2f} s/clip",
                     f"{reference / result['seconds_per_clip']:.2f}× mir_eval", result["peak_rss_mib"]))

if __name__ == "__main__":
    main()
