"""The int8 network's graph and runtime settings compared in one process: speed, agreement, and the layout of
two one-thread ONNX Runtime instances (`InferenceSession`s). Printed, never asserted (docs/speed.md).

    git show ce1b99d:lib/shsep/weights/cpu.int8.onnx > /tmp/previous.int8.onnx   # the graph before the shape rewiring
    python benchmarks/int8_graph_variants.py --previous /tmp/previous.int8.onnx --rounds 5

* speed: a 5-minute 44.1 kHz stereo song separated (work only) by each variant in turn, best of --rounds;
  then seconds per 512-frame window.
* agreement: GNSDR of the previous and the current graph and settings on the 15 validation-song clips, both
  windowings, both paths (the shipped model trained on those songs: this checks agreement, not quality).
* instances: a 5- and a 10-minute song separated with the defaults (work only, no start-up), the network in one
  instance of two threads with ONNX Runtime's memory pattern (before), without it, or in two instances of one
  thread each, two windows at once (the default); each in its own process, for its peak memory, twice.
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


def _network(graph: str, nchwc: bool, threads: int | None = None, instances: int = 1):
    import shsep.networks as networks

    networks.DISABLED_OPTIMISERS = None if nchwc else ["NchwcTransformer"]  # read when an instance is made
    return networks.OnnxNetwork(graph, threads=threads, instances=instances)


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


INSTANCE_LAYOUTS = {  # name: (instances, ONNX Runtime's memory pattern)
    "before": (1, True), "one": (1, False), "two": (2, False)}


def instances_phase(current: str, layout: str, minutes: str) -> None:
    """One process: a song of `minutes` separated with the defaults, its network laid out as `layout`."""
    import soundfile as sf

    import shsep.networks as networks

    sys.path.insert(0, os.path.dirname(__file__))
    from benchmark import _write_song

    with tempfile.TemporaryDirectory() as scratch:
        song = os.path.join(scratch, "song.wav")
        _write_song(song, int(minutes))
        audio, rate = sf.read(song, dtype="float32", always_2d=True)
    instances, networks.MEMORY_PATTERN = INSTANCE_LAYOUTS[layout]
    separator = _separator(_network(current, False, threads=2, instances=instances))
    started = time.perf_counter()
    separator.separate_full_band(audio.T, rate)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    label = {"before": "one instance of 2 threads, memory pattern", "one": "one instance of 2 threads",
             "two": "two instances of 1 thread (default)"}[layout]
    print(f"{minutes:>2} min song, {label:42s} {seconds:.2f} s ({seconds / int(minutes):.3f} s per minute), "
          f"peak RSS {peak:.0f} MiB")


def main() -> None:
    from shsep.networks import int8_model_for
    from shsep.paths import SHIPPED_MODEL

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--previous", help="an int8 graph to compare with the shipped one (see above)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=["speed", "agreement", "instances"])
    parser.add_argument("--phase", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    current = str(int8_model_for(SHIPPED_MODEL))
    if args.phase:
        return instances_phase(current, *args.phase)
    parts = args.only or ["speed", "agreement", "instances"]
    if {"speed", "agreement"} & set(parts) and not args.previous:
        parser.error("speed and agreement compare with --previous GRAPH (see the usage above)")
    if "speed" in parts:
        speed(args.previous, current, args.rounds)
    if "agreement" in parts:
        agreement(args.previous, current)
    if "instances" in parts:
        for minutes in ("5", "10"):
            for _ in range(2):
                for layout in INSTANCE_LAYOUTS:
                    subprocess.run([sys.executable, __file__, "--phase", layout, minutes], check=True)


if __name__ == "__main__":
    main()
