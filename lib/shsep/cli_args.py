"""The `shsep` command line's arguments: one function per subcommand adds its own, so that `shsep --help` and most
argument errors answer without importing torch. The commands themselves are in `cli`."""
from __future__ import annotations

import argparse
from pathlib import Path

SONGS_VOICE_GAIN = 2.0  # masking.SONGS_VOICE_GAIN, written out like the choices below (a test checks they agree)


def duration(text: str) -> float:
    """Seconds from '7200', '7200s', '90m' or '2h' (argparse type of --time-budget)."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    factor = units.get(text[-1:], None)
    try:
        seconds = float(text[:-1] if factor else text) * (factor or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (examples: 7200, 90m, 2h)") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"a time budget must be positive and finite, not {text!r}")
    return seconds


def _add_train(p):
    from .profiles import PROFILES
    from .samplers import SAMPLERS
    from .targets import LOSSES, TARGETS

    p.add_argument("--profile", choices=list(PROFILES), help="default: paper with CUDA, else cpu")
    p.add_argument("--out", type=Path, help="run folder (default: runs/<profile>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--test", action="store_true",
                   help="then score the best checkpoint once on the test split and log the run in results/experiments.csv")
    p.add_argument("--log", action="store_true",
                   help="then log the run with its validation figure in results/experiments.csv (a screening row), "
                        "without scoring the test split")
    p.add_argument("--steps", type=int)
    p.add_argument("--time-budget", type=duration, metavar="DURATION",
                   help="train for what fits this much time on this machine (e.g. 2h, 90m, 7200): the steps are "
                        "timed at the start, fitted again to the run's own pace at its first checkpoint after the "
                        "warm-up, and the profile's schedule is stretched or shrunk to them (--steps ignored); "
                        "where they are under half the profile's, its cheaper network trains instead (for cpu: 16 "
                        "channels +16, without the spectral loss)")
    p.add_argument("--sampler", choices=SAMPLERS)
    p.add_argument("--target", choices=list(TARGETS))
    p.add_argument("--loss", choices=list(LOSSES), help="l1 on magnitudes (Park's) or on log-compressed magnitudes")
    p.add_argument("--resolution-loss", type=float, metavar="WEIGHT",
                   help="add WEIGHT x a multi-resolution spectral loss of the last stack's estimates, resynthesised "
                   "with the mixture's phase (32, 64 and 256 ms frames; the profile's by default: 1 for cpu, "
                   "else 0, Park's loss alone; needs --remix)")
    p.add_argument("--early-stack-weight", type=float, metavar="WEIGHT",
                   help="weight of each stack's loss but the last's (intermediate supervision): 1 weighs every stack "
                   "alike, as Park does (the default); 0 trains the last stack's estimates alone")
    p.add_argument("--batch-size", type=int, metavar="WINDOWS",
                   help="training windows per step (the profile's by default: 8 for cpu); the cost of a step scales "
                   "with it, so halving it and doubling --steps keeps the training compute")
    p.add_argument("--budget-batch-size", type=_at_least_one, metavar="WINDOWS",
                   help="training windows per step of the cheaper network --time-budget trains where the budget "
                   "buys under half the profile's steps (a CPU without native bf16); the profile's by default: 4 "
                   "for cpu and songs. Its warm-up keeps as many windows")
    p.add_argument("--learning-rate", type=float, help="peak learning rate (the profile's by default)")
    p.add_argument("--warmup-steps", type=int, metavar="STEPS",
                   help="steps of linear warm-up to the peak learning rate before the cosine decay (the profile's "
                   "by default: 500 for cpu)")
    p.add_argument("--seed", type=int, help="seed of the training windows' order and remixes (and of the initial "
                   "weights, unless --init-seed)")
    p.add_argument("--init-seed", type=int, help="seed of the initial weights alone (default: --seed)")
    p.add_argument("--init-trials", type=int, help="initial weights to try for the profile's trial steps before "
                   "continuing the one with the lowest training loss (1: no trials)")
    p.add_argument("--remix", type=float, help="share of training windows remixed across clips, 0 to 1")
    p.add_argument("--voice-shift", type=float, help="share of remixes whose voice is shifted in pitch and formants "
                   "(by resampling, by one of --voice-shifts), 0 to 1 (the profile's by default)")
    p.add_argument("--voice-shifts", type=float, nargs="+", metavar="SEMITONES",
                   help="the shifts --voice-shift draws from (default: -4 -2 2 4)")
    p.add_argument("--voice-formants", type=float, metavar="SHARE",
                   help="share of a voice shift that its formants follow: 1 moves them with the pitch (resampling, "
                   "the default), 0 keeps them where they were (the spectral envelope moved back)")
    p.add_argument("--short-patches", type=float, metavar="SHARE",
                   help="share of the steps, from the first, trained on windows of half the frames (32 of 64): "
                   "cheaper steps early (default 0)")
    p.add_argument("--equaliser-db", type=float, help="largest gain in dB of a random EQ given to each remixed "
                   "source (0: none; the profile's by default)")
    p.add_argument("--reverb", type=float, help="share of remixes whose voice is sung in a random room (reverberation "
                   "time 0.4-2.5 s, direct-to-reverberant ratio 0-12 dB), the target then the reverberant voice, "
                   "0 to 1 (the profile's by default)")
    p.add_argument("--compression", type=float, help="share of remixes whose voice goes through a random compressor "
                   "(threshold 6-24 dB below its loudest frame, ratio 2-8), 0 to 1 (the profile's by default)")
    p.add_argument("--accompaniment-shift", type=float, help="share of remixes whose accompaniment is shifted in key "
                   "and tempo together (by resampling, by -2, -1, +1 or +2 semitones), 0 to 1 (the profile's by default)")
    p.add_argument("--accompaniment-layers", type=float, help="share of remixes whose accompaniment is two clips' "
                   "accompaniments summed, each at its own gain (a denser backing, the voice quieter against it), "
                   "0 to 1 (the profile's by default)")
    p.add_argument("--sample-rate", type=int, choices=[8000, 16000],
                   help="the rate of the network's STFT (same sizes: 1024 / 256, 512 bins): 8000, Park's, sees 0-4 "
                        "kHz; 16000 sees 0-8 kHz at half the frequency resolution (the profile's by default)")
    p.add_argument("--channels", type=int, help="the network's width at full resolution (the profile's by default)")
    p.add_argument("--growth", type=int, help="channels added per pooling")
    p.add_argument("--stacks", type=int, help="number of stacked hourglasses")
    p.add_argument("--input-power", type=float, metavar="POWER",
                   help="the network reads its input magnitudes raised to POWER, in (0, 1]: 1 as they are (Park's, "
                        "the default), 0.5 their square roots; the masks still apply to the magnitudes as they are")
    p.add_argument("--dense-frequency", action="store_true",
                   help="after every pooling in each hourglass, a residual fully connected layer across frequency "
                        "(every cell reads the whole band; a few %% more parameters); Park's network has none")
    p.add_argument("--dense-full-resolution", action="store_true",
                   help="with --dense-frequency (or a profile that has the layers): each hourglass's output, at "
                        "full resolution, passes one too")
    p.add_argument("--hold-out", nargs="*", metavar="SONG", dest="validation_songs",
                   help="whole training songs (amy_14) or singers (abjones) held out, scored at every checkpoint, "
                        "the best kept as best.pt (the profile's by default: none for cpu, whose recipe was chosen holding out abjones_5 amy_14); "
                        "with no song, train on every training clip and keep the last step")
    p.add_argument("--precision", choices=["fp32", "bf16", "auto"],
                   help="CPU training precision (the profile's by default; auto: bf16 where a start-up probe finds it "
                        "faster); fp32 reproduces a CPU without native bf16")
    p.add_argument("--data-root", help="MIR-1K folder (default: $MIR1K_ROOT, data/MIR-1K, ../shared/data/MIR-1K)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")


def _add_separate(p):
    p.description = ("Separate songs into voice and accompaniment. Default: full band, at the input's rate and "
                     "channel count, stems that add up to the input.")
    p.add_argument("inputs", nargs="+", type=Path, help="audio files (wav, flac, mp3, ogg, ... any rate, mono or stereo), or folders: "
                        "every audio file directly in them")
    p.add_argument("-o", "--out", type=Path, default=Path("separated"), help="output folder (default: separated)")
    p.add_argument("--band", choices=["full", "park"], default="full",
                   help="full: full band, stereo kept (default); park: the paper's 8 kHz mono path (nothing above 4 kHz)")
    p.add_argument("--format", choices=["wav", "flac"], default="wav", dest="file_format",
                   help="wav (32-bit float, default) or flac (24-bit)")
    p.add_argument("--stems", nargs="+", choices=["voice", "accompaniment"], default=["voice", "accompaniment"],
                   help="which stems to write (default: both)")
    _add_full_band_options(p, voice_gain=SONGS_VOICE_GAIN)
    _add_inference_options(p, windowing="long", precision="auto")
    _add_int8_runtime_option(p)
    _add_songs_checkpoint_option(p)
    p.add_argument("--batch-size", type=int, help="windows per forward pass (default: 16 on CUDA, 1 on CPU, where batching measured slower)")
    p.add_argument("--device")


def _add_full_band_options(p, channels: bool = True, voice_gain: float = 1.0):
    if channels:
        p.add_argument("--channels", choices=["downmix", "per-channel"], default="downmix",
                       help="full band: one mask from the downmix for every channel (default), or one network pass per channel")
    p.add_argument("--high-band", choices=["band-ratio", "average", "edge", "zero"], default="band-ratio",
                   help="full band: the voice mask above 4 kHz, which the network does not see (default: band-ratio, "
                        "the voice share of the 2-4 kHz band)")
    p.add_argument("--wiener", type=int, default=0, metavar="ITERATIONS",
                   help="full band: iterations of the multichannel Wiener (EM) post-filter (default 0: off)")
    p.add_argument("--voice-gain", type=_positive, default=voice_gain, metavar="GAIN",
                   help="full band: the voice estimate's gain in the soft mask, g*v / (g*v + a); above 1 keeps "
                        "more of the voice, as produced songs need; 1: the network's own masks, right for MIR-1K "
                        f"(default: {voice_gain:g})")


def _add_inference_options(p, windowing: str, precision: str):
    # the choices are windowing.WINDOWINGS and networks.PRECISIONS, written out so that --help needs no torch
    p.add_argument("--windowing", choices=["park", "long"], default=windowing,
                   help="park: Park's 64-frame windows every 32 frames (the paper's protocol); long: 16 s windows "
                        f"overlapping by 1 s, about half the network's work (default: {windowing})")
    p.add_argument("--precision", choices=["fp32", "bf16", "int8", "auto"], default=precision,
                   help="the network's precision: fp32 and bf16 run it in PyTorch; int8 runs its quantised ONNX "
                        "export (beside the checkpoint, e.g. the shipped weights/songs.int8.onnx) in ONNX Runtime or "
                        "OpenVINO on the CPU, without importing torch; auto: int8 where that export and a runtime "
                        "for it are there, "
                        "else bf16 on CUDA and on CPUs with native bf16 (AVX-512-BF16, AMX), else fp32 "
                        f"(default: {precision})")
    p.add_argument("--shifts", type=_at_least_one, default=1,
                   help="test-time averaging: lay the windows this many times, each a fraction of Park's 32-frame "
                        "step later, and average the estimates; costs as many network passes (default 1: off, the "
                        "paper's protocol)")


def _add_int8_runtime_option(p):
    p.add_argument("--int8-runtime", choices=["auto", "onnxruntime", "openvino"], default="auto",  # INT8_RUNTIMES
                   help="what runs the int8 network: auto: OpenVINO where it is installed and the CPU has AMX "
                        "or AVX2 without AVX-512 (measured faster there), else ONNX Runtime (default: auto)")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number is needed, not {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number is needed, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _add_songs_checkpoint_option(p):
    """`--checkpoint` of the commands that separate songs (`separate`, `evaluate-musdb`)."""
    p.add_argument("--checkpoint", type=Path, action="append",
                   help="the model; given more than once, the models' estimates are averaged (default: the two "
                        "shipped with shsep, lib/shsep/weights/songs.pt and cpu.pt, averaged: ahead of either alone "
                        "on the development songs)")


def _add_evaluate(p):
    from .metrics import EVALUATORS

    p.add_argument("--checkpoint", type=Path, action="append",
                   help="default: the cpu model shipped with shsep (lib/shsep/weights/cpu.pt), the better of the "
                        "two on Park's protocol (MIR-1K); given more than once, the models' estimates are averaged")
    p.add_argument("--split", choices=["test", "train", "all"], default="test")
    p.add_argument("--clips", nargs="+", help="score only these clip ids")
    p.add_argument("--max-clips", type=int)
    p.add_argument("--evaluator", choices=EVALUATORS, default="fast_bss_eval")
    p.add_argument("--workers", type=int, help="parallel processes (default: one per core)")
    p.add_argument("--band", choices=["park", "full"], default="park",
                   help="park: the paper's protocol (8 kHz mono path, default); full: the full-band path, scored at 16 kHz")
    _add_full_band_options(p, channels=False)
    _add_inference_options(p, windowing="park", precision="fp32")
    _add_int8_runtime_option(p)
    p.add_argument("--post-filter", choices=["none", "soft-mask"], default="none",  # separate.POST_FILTERS
                   help="Park's path: none: each estimate with the mixture's phase (the paper's protocol, default); "
                        "soft-mask: the voice share v / (v + a) of the mixture's STFT")
    p.add_argument("--out", type=Path, help="folder for per_clip.csv and summary.json")
    p.add_argument("--data-root")


def _add_evaluate_musdb(p):
    p.description = ("Separate every track of MUSDB18 / MUSDB18-HQ (or any folder of songs with a vocals stem) as "
                     "`shsep separate` does, and score vocals and accompaniment with museval's BSS-eval v4 on 1 s "
                     "frames: the median over frames per track, the median over tracks.")
    p.add_argument("path", type=Path, help="a MUSDB18 root (.stem.mp4 files), a MUSDB18-HQ root (folders with "
                   "mixture.wav, vocals.wav ...), one track, or any folder of such tracks")
    p.add_argument("--subset", choices=["train", "test"], help="only the tracks under a folder of that name")
    _add_songs_checkpoint_option(p)
    _add_full_band_options(p, voice_gain=SONGS_VOICE_GAIN)
    _add_inference_options(p, windowing="long", precision="auto")
    _add_int8_runtime_option(p)
    p.add_argument("--out", type=Path, help="folder for per_track.csv and summary.json")
    p.add_argument("--device")


def _add_score(p):
    from .metrics import EVALUATORS

    p.add_argument("--voice", type=Path, required=True)
    p.add_argument("--accompaniment", type=Path, required=True)
    p.add_argument("--clips", nargs="+", required=True, help="clip ids, joined in this order (e.g. annar_4_01 ... annar_4_09)")
    p.add_argument("--evaluator", choices=EVALUATORS, default="fast_bss_eval")
    p.add_argument("--data-root")


def _add_ablations(p):
    from .arms import ARMS, BUDGETS, DEFAULT_BUDGET

    p.add_argument("--budget", choices=list(BUDGETS), default=DEFAULT_BUDGET,
                   help="; ".join(f"{b.name}: {b.about}" for b in BUDGETS.values()))
    p.add_argument("--arms", nargs="+", choices=[a.name for a in ARMS],
                   help="default: the arms the log lacks for this budget (all of them with --rerun)")
    p.add_argument("--rerun", action="store_true", help="retrain from scratch and replace the arms' rows")
    p.add_argument("--no-questions", action="store_true", help="skip the evaluator comparisons")
    p.add_argument("--data-root")
    p.add_argument("--device")
    p.add_argument("--workers", type=int, help="evaluation processes (default: one per core)")


def _add_export(p):
    p.add_argument("checkpoint", type=Path)
    p.add_argument("destination", type=Path)


def _add_export_int8(p):
    p.description = ("Export a checkpoint to ONNX with its convolutions quantised to int8 (calibrated on MIR-1K "
                     "training clips), beside it as <name>.int8.onnx, for `--precision int8` (needs onnx and "
                     "onnxruntime, and MIR-1K's training clips).")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--destination", type=Path, help="default: beside the checkpoint, <name>.int8.onnx")
    p.add_argument("--data-root", type=Path, help="MIR-1K folder (default: $MIR1K_ROOT, data/MIR-1K, ../shared/data/MIR-1K)")


def _add_download(p):
    p.add_argument("--destination", type=Path, default=None)


# name: (one-line help, the function that adds its arguments). Only the command being run gets its arguments
# (some need heavy imports for their choices), so `shsep --help` and most argument errors answer at once.
SUBCOMMANDS = {
    "train": ("train a network with a named profile", _add_train),
    "separate": ("separate audio files into voice and accompaniment", _add_separate),
    "evaluate": ("score a checkpoint on MIR-1K (GNSDR/GSIR/GSAR)", _add_evaluate),
    "evaluate-musdb": ("score separations of real songs the MUSDB18 way (museval v4, medians)", _add_evaluate_musdb),
    "score": ("score separations stored as files against the MIR-1K clips they came from", _add_score),
    "ablations": ("train and score the ablation arms; append them to results/experiments.csv", _add_ablations),
    "export": ("write a small inference-only copy (float16 weights) of a checkpoint", _add_export),
    "export-int8": ("export a checkpoint's network to ONNX, quantised to int8, for fast CPU separation", _add_export_int8),
    "download-mir1k": ("download the official MIR-1K into data/ (needs internet)", _add_download),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shsep", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (help_text, add_arguments) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == chosen:
            add_arguments(p)
    return parser
