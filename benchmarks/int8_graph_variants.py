"""The int8 network's graph and runtime settings compared in one process: speed, agreement, and the layout of
two one-thread ONNX Runtime instances (`InferenceSession`s). Printed, never asserted (docs/speed.md).

    git show ce1b99d:lib/shsep/weights/cpu.int8.onnx > /tmp/previous.int8.onnx   # the graph before the shape rewiring
    python benchmarks/int8_graph_variants.py --previous /tmp/previous.int8.onnx --rounds 5

* speed: a 5-minute 44.1 kHz stereo song separated (work only) by each variant in turn, best of --rounds;
  then seconds per 512-frame window.
* agreement: GNSDR of the previous and the current graph and settings on the 15 validation-song clips, both
  windowings, both paths (the shipped model trained on those songs: this checks agreement, not quality).
* instances: first the network alone (40 windows of 512 frames, a 10-minute song's long windows, twice), then a
  song separated as `shsep separate` does it (work only, no start-up), the network in one instance
  of two threads with ONNX Runtime's memory pattern (the setting before), without it (the default), or in two
  one-thread instances, two windows at once (`TwoInstances`); each in its own process, for its peak memory: 5 minutes
  (--rounds times), 10 minutes, and 10 minutes with `--wiener 1` (one instance, shrinking its memory).
  These three compare ONNX Runtime's graphs and settings; the network runs in ONNX Runtime throughout.
* runtimes: the shipped graph in ONNX Runtime and in OpenVINO, seconds per window and GNSDR on the validation
  clips (`python benchmarks/int8_graph_variants.py --only runtimes`).
* isa: a 512-frame window in OpenVINO with oneDNN held to a smaller instruction set (`ONEDNN_MAX_CPU_ISA`: AMX
  taken away, then AVX-512, then VNNI), each in its own process, beside ONNX Runtime with every instruction set
  this CPU has (ONNX Runtime has no such switch): what OpenVINO would do on a CPU without those instructions,
  as far as the instructions decide it (`python benchmarks/int8_graph_variants.py --only isa`).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def _network(graph: str, nchwc: bool, threads: int | None = None, memory_pattern: bool = False):
    import shsep.networks as networks

    # both read when the instance is made; the memory pattern was on before (docs/speed.md)
    networks.DISABLED_OPTIMISERS = None if nchwc else ["NchwcTransformer"]
    networks.MEMORY_PATTERN = memory_pattern
    return networks.OnnxNetwork(graph, threads=threads, runtime="onnxruntime")


class TwoInstances:
    """Two one-thread instances of the int8 network, each taking half of a call's windows, side by side (ONNX
    Runtime releases the GIL while it runs); a lone window goes to the first. Stands in for `OnnxNetwork`."""

    def __init__(self, graph: str):
        from concurrent.futures import ThreadPoolExecutor

        self.halves = [_network(graph, False, threads=1) for _ in range(2)]
        first = self.halves[0]
        self.target, self.front_end = first.target, first.front_end
        self.pool = ThreadPoolExecutor(2)

    def __call__(self, windows):
        parts = [part for part in np.array_split(windows, 2) if len(part)]
        results = list(self.pool.map(lambda job: job[0](job[1]), zip(self.halves, parts)))
        return tuple(np.concatenate([result[k] for result in results]) for k in range(2))


def _separator(network, windowing: str = "long"):
    from shsep.separate import Separator
    from shsep.spectrogram import FrontEnd

    return Separator(network, front_end=FrontEnd(**network.front_end), windowing=windowing)


def speed(previous: str, current: str, rounds: int) -> None:
    import scipy.fft
    import soundfile as sf

    sys.path.insert(0, os.path.dirname(__file__))
    from benchmark import _write_song

    with tempfile.TemporaryDirectory() as scratch:
        song = os.path.join(scratch, "song.wav")
        _write_song(song, 5)
        audio, rate = sf.read(song, dtype="float32", always_2d=True)
    audio = audio.T
    scipy_rfft = scipy.fft.rfft

    def numpy_rfft(x, axis=-1, **_):
        return np.fft.rfft(x, axis=axis)

    variants = {"previous graph, NCHWc rewrite, numpy FFT": (previous, True, numpy_rfft),
                "current graph, NCHWc rewrite, numpy FFT": (current, True, numpy_rfft),
                "current graph, no NCHWc rewrite, numpy FFT": (current, False, numpy_rfft),
                "current graph, no NCHWc rewrite, scipy FFT (default)": (current, False, scipy_rfft)}
    separators = {name: _separator(_network(graph, nchwc)) for name, (graph, nchwc, _) in variants.items()}
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, (_, _, rfft) in variants.items():
            scipy.fft.rfft = rfft  # spectrogram.stft calls scipy.fft.rfft
            started = time.perf_counter()
            separators[name].separate_full_band(audio, rate)
            best[name] = min(best[name], time.perf_counter() - started)
    scipy.fft.rfft = scipy_rfft
    for name, seconds in best.items():
        print(f"{name:55s} {seconds:.3f} s for 5 min ({300 / seconds:.0f}x real time)")
    window = np.random.default_rng(0).random((1, 1, 512, 512), dtype=np.float32) ** 4
    for name, (graph, nchwc) in {"previous graph, NCHWc rewrite": (previous, True),
                                 "current graph, no NCHWc rewrite (default)": (current, False)}.items():
        network = _network(graph, nchwc, threads=2)
        network(window)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            network(window)
            times.append(time.perf_counter() - started)
        print(f"{name:55s} {1000 * min(times):.1f} ms per 512-frame window")


def agreement(previous: str, current: str) -> None:
    import pandas as pd

    from shsep.data import index_clips, load_sources, split_validation
    from shsep.evaluate import separate_and_score
    from shsep.metrics import summarise
    from shsep.profiles import VALIDATION_SONGS

    _, clips = split_validation(index_clips(split="train"), VALIDATION_SONGS)
    sources = [load_sources(clip) for clip in clips]
    for name, graph, nchwc in (("previous", previous, True), ("current", current, False)):
        network = _network(graph, nchwc)
        for windowing in ("park", "long"):
            separator = _separator(network, windowing)
            for band in ("park", "full"):
                summary = summarise(pd.DataFrame([separate_and_score(separator, s, band=band, cache=True)
                                                  for s in sources]))
                print(f"{name:8s} windows {windowing:4s} band {band:4s} {summary['clips_scored']} clips: voice "
                      f"{summary['voice_gnsdr']:.3f} accompaniment {summary['accompaniment_gnsdr']:.3f} GNSDR")


def _window_times(network, rounds: int) -> tuple[float, list[float]]:
    """Seconds of the network's first 512-frame window (OpenVINO compiles its graph there), then of rounds × 4 more."""
    window = np.random.default_rng(0).random((1, 1, 512, 512), dtype=np.float32) ** 4
    times = []
    for _ in range(1 + rounds * 4):
        started = time.perf_counter()
        network(window)
        times.append(time.perf_counter() - started)
    return times[0], times[1:]


def runtimes(current: str, rounds: int) -> None:
    """The int8 network in each runtime (`networks.int8_runtime`): a window of 512 frames (the first call apart:
    it compiles OpenVINO's graph), then GNSDR on the 15 validation clips, both windowings, both paths."""
    import pandas as pd

    from shsep.data import index_clips, load_sources, split_validation
    from shsep.evaluate import separate_and_score
    from shsep.metrics import summarise
    from shsep.networks import INT8_RUNTIMES, OnnxNetwork
    from shsep.profiles import VALIDATION_SONGS

    networks = {name: OnnxNetwork(current, runtime=name) for name in INT8_RUNTIMES[1:]}
    for name, network in networks.items():
        first, times = _window_times(network, rounds)
        print(f"{name:12s} first window {1000 * first:.1f} ms, then {1000 * min(times):.1f} ms per 512-frame window "
              f"(best of {len(times)})")
    _, clips = split_validation(index_clips(split="train"), VALIDATION_SONGS)
    sources = [load_sources(clip) for clip in clips]
    for windowing in ("park", "long"):
        for band in ("park", "full"):
            for name, network in networks.items():
                separator = _separator(network, windowing)
                summary = summarise(pd.DataFrame([separate_and_score(separator, s, band=band, cache=True)
                                                  for s in sources]))
                print(f"{name:12s} windows {windowing:4s} band {band:4s} {summary['clips_scored']} clips: voice "
                      f"{summary['voice_gnsdr']:.3f} accompaniment {summary['accompaniment_gnsdr']:.3f} GNSDR")


ISA_CAPS = (None, "AVX512_CORE_VNNI", "AVX2_VNNI", "AVX2")  # oneDNN's names: as this CPU has them, then without AMX,
# then without AVX-512 (AVX2 with VNNI, as on Intel's hybrid CPUs), then AVX2 alone (as on Zen 2 and 3)


def isa(rounds: int) -> None:
    """One process per runtime and instruction-set cap (`isa_phase`, which loads the shipped graph), twice over."""
    for _ in range(2):
        subprocess.run([sys.executable, __file__, "--isa-phase", "onnxruntime", str(rounds)], check=True)
        for cap in ISA_CAPS:
            env = dict(os.environ, **({"ONEDNN_MAX_CPU_ISA": cap} if cap else {}))
            subprocess.run([sys.executable, __file__, "--isa-phase", "openvino", str(rounds)], check=True, env=env)


def isa_phase(current: str, runtime: str, rounds: str) -> None:
    from shsep.networks import OnnxNetwork

    _, times = _window_times(OnnxNetwork(current, runtime=runtime), int(rounds))
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "every instruction set") if runtime == "openvino" else \
        "every instruction set (no cap possible)"
    print(f"{runtime:12s} {cap:40s} {1000 * min(times):6.1f} ms per 512-frame window (best of {len(times)}), "
          f"median {1000 * float(np.median(times)):6.1f} ms")


LAYOUT_LABELS = {"pattern": "one instance of 2 threads, memory pattern (before)",
                 "one": "one instance of 2 threads (default)", "two": "two instances of 1 thread"}


def _laid_out_separator(graph: str, layout: str):
    separator = _separator(_network(graph, False, threads=2, memory_pattern=layout == "pattern"))
    if layout == "two":
        separator.network, separator.batch_size = TwoInstances(graph), 2
    return separator


def instances_phase(current: str, layout: str, minutes: str, wiener: str = "0") -> None:
    """One process: a song of `minutes` separated as `shsep separate` does it (block by block, stems written), its
    network laid out as `layout`; the work's seconds (no start-up) and the process's peak memory."""
    if minutes == "windows":  # the network alone: 40 windows of 512 frames, a 10-minute song's long windows
        return _windows_phase(current, layout)
    from shsep.predict import separate_file

    sys.path.insert(0, os.path.dirname(__file__))
    from benchmark import _write_song

    with tempfile.TemporaryDirectory() as scratch:
        song = os.path.join(scratch, "song.wav")
        _write_song(song, int(minutes))
        separator = _laid_out_separator(current, layout)
        started = time.perf_counter()
        separate_file(separator, song, scratch, wiener_iterations=int(wiener), progress=False)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{minutes:>2} min song{' + Wiener 1' if wiener != '0' else '':11s}, {LAYOUT_LABELS[layout]:42s} "
          f"{seconds:.2f} s ({seconds / int(minutes):.3f} s per minute), peak RSS {peak:.0f} MiB")


def _windows_phase(current: str, layout: str) -> None:
    network = TwoInstances(current) if layout == "two" else _network(current, False, threads=2)
    windows = np.random.default_rng(0).random((40, 1, 512, 512), dtype=np.float32) ** 4
    per_call = 2 if layout == "two" else 1
    started = time.perf_counter()
    for first in range(0, len(windows), per_call):
        network(windows[first: first + per_call])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"network alone, 40 windows, {LAYOUT_LABELS[layout]:42s} {time.perf_counter() - started:.2f} s, "
          f"peak RSS {peak:.0f} MiB")


def main() -> None:
    from shsep.networks import int8_model_for
    from shsep.paths import SONGS_MODEL

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--previous", help="an int8 graph to compare with the shipped one (see above)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=["speed", "agreement", "instances", "runtimes", "isa"])
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--isa-phase", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    current = str(int8_model_for(SONGS_MODEL))
    if args.phase:
        return instances_phase(current, *args.phase)
    if args.isa_phase:
        return isa_phase(current, *args.isa_phase)
    parts = args.only or ["speed", "agreement", "instances", "runtimes", "isa"]
    if {"speed", "agreement"} & set(parts) and not args.previous:
        parser.error("speed and agreement compare with --previous GRAPH (see the usage above)")
    if "speed" in parts:
        speed(args.previous, current, args.rounds)
    if "agreement" in parts:
        agreement(args.previous, current)
    if "runtimes" in parts:
        runtimes(current, args.rounds)
    if "isa" in parts:
        isa(args.rounds)
    if "instances" in parts:
        for _ in range(2):
            for layout in ("one", "two"):
                subprocess.run([sys.executable, __file__, "--phase", layout, "windows"], check=True)
        for minutes, wiener in (("5", "0"), ("10", "0"), ("10", "1")):
            for _ in range(args.rounds if minutes == "5" else 1):
                for layout in LAYOUT_LABELS if wiener == "0" else ("pattern", "one"):
                    subprocess.run([sys.executable, __file__, "--phase", layout, minutes, wiener], check=True)


if __name__ == "__main__":
    main()
