"""Time a peer separator on one audio file, in the peers' own environment (benchmarks/setup_peers.sh).

    .venv-peers/bin/python benchmarks/peers.py umxl|htdemucs SONG.wav OUT_FOLDER

Builds the peer's network with random weights (their pretrained weights download at run time, and speed does not
depend on the weight values) and runs it through its own separation code: Open-Unmix `umxl` (vocals + residual,
Wiener 1 iteration, its defaults otherwise) and HTDemucs (4 sources, `apply_model` with one shift and 25% overlap,
as the `demucs` command does). Reading and writing the stems are timed too, as `shsep separate` is. Prints one JSON
line: seconds, parameters, peak resident memory.
"""
import json
import resource
import sys
import time
import types
from pathlib import Path

# Neither peer needs torchaudio for separation at the song's own rate, and its wheels would pull another torch.
sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402


def build_umxl():
    import openunmix

    separator = openunmix.umxl(targets=["vocals"], residual=True, niter=1, pretrained=False, device="cpu").eval()
    parameters = sum(p.numel() for p in separator.target_models.parameters())

    def run(audio: torch.Tensor) -> list[np.ndarray]:
        estimates = separator(audio[None])[0]  # (targets, channels, samples): vocals, residual
        return [e.numpy() for e in estimates]

    return run, parameters


def build_htdemucs():
    from fractions import Fraction

    from demucs.apply import apply_model
    from demucs.htdemucs import HTDemucs

    # the released htdemucs' shape: 4 sources, 48 channels, a 512-channel transformer bottleneck, 7.8 s segments
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], bottom_channels=512, segment=Fraction(39, 5)).eval()
    parameters = sum(p.numel() for p in model.parameters())

    def run(audio: torch.Tensor) -> list[np.ndarray]:
        estimates = apply_model(model, audio[None], shifts=1, split=True, overlap=0.25, progress=False)[0]
        return [e.numpy() for e in estimates]

    return run, parameters


PEERS = {"umxl": build_umxl, "htdemucs": build_htdemucs}


def main() -> None:
    name, song, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    run, parameters = PEERS[name]()
    with torch.inference_mode():
        start = time.perf_counter()
        audio, rate = sf.read(song, dtype="float32", always_2d=True)
        stems = run(torch.from_numpy(np.ascontiguousarray(audio.T)))
        for i, stem in enumerate(stems):
            sf.write(out / f"{song.stem}_{name}_{i}.wav", stem.T, rate, subtype="FLOAT")
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "parameters": parameters, "peak_rss_mib": round(peak), "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
