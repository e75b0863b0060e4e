"""The `shsep` command line: train, separate, evaluate, score, ablations, export, export-int8, download-mir1k.

Each command here turns parsed arguments (`cli_args`) into one call of the package, and a bad input into one
line on stderr and exit status 2.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .cli_args import build_parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)

    from .checkpoints import CheckpointError
    from .data import DataError

    try:
        return COMMANDS[args.command](args)
    except (DataError, CheckpointError, ValueError) as error:
        print(f"shsep {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: a line, not a traceback; nothing written is left half-written
        print(f"shsep {args.command}: interrupted{INTERRUPTED.get(args.command, '')}", file=sys.stderr)
        return 130


# what an interruption leaves, per command (checkpoints and stems are written under another name and renamed)
INTERRUPTED = {"train": "; the run's last checkpoint is kept: the same command with --resume continues it "
                        "exactly",
               "separate": "; the stems already finished are kept, none is left half-written"}


# the options of `shsep train` that override a profile's field (the data levers: `profiles.LOGGED_LEVERS`)
TRAIN_OVERRIDES = ("steps", "time_budget", "sampler", "target", "loss", "batch_size", "budget_batch_size",
                   "learning_rate", "warmup_steps", "seed", "init_seed", "init_trials", "channels", "growth", "stacks",
                   "validation_songs", "precision", "sample_rate", "voice_shifts", "short_patches", "resolution_loss",
                   "early_stack_weight", "input_power")


def _train(args) -> int:
    from .profiles import LOGGED_LEVERS, default_profile, get_profile, with_overrides
    from .train import train

    profile = args.profile or default_profile()
    overrides = {k: getattr(args, k) for k in TRAIN_OVERRIDES + LOGGED_LEVERS if getattr(args, k) is not None}
    for name in ("validation_songs", "voice_shifts"):
        if name in overrides:
            overrides[name] = tuple(overrides[name])
    config = get_profile(profile, **overrides)
    dense = {}  # the dense layers across frequency, built for the bins of the front end this run trains with
    if args.dense_frequency:
        dense["dense_frequency_bins"] = config.front_end.num_bins
    if args.dense_full_resolution:
        dense["dense_full_resolution"] = True
    if dense:
        overrides |= dense
        config = with_overrides(config, **dense)
    if args.budget_batch_size is not None and config.budget_model is None:
        raise ValueError("--budget-batch-size sets the batch of the cheaper network a time budget may train instead, "
                         "and this run has none (a network given by hand, or a profile without one); "
                         "--batch-size sets the batch of the network it trains")
    out = args.out or Path("runs") / profile
    length = (f"what fits {config.time_budget:g} s of training" if config.time_budget else f"{config.steps} steps")
    print(f"training profile {profile!r} for {length} into {out}")
    if args.test or args.log:  # loaded now, so that a library edited during a long run cannot mix versions at its end
        from . import evaluate, experiments, metrics, separate  # noqa: F401
    path = train(config, out, data_root=args.data_root, resume=args.resume, device=args.device)
    print(f"checkpoint: {path}")
    if args.test or args.log:
        from .arms import RECIPE_BUDGET, SCREENING_BUDGET
        from .experiments import log_training_run
        from .metrics import format_summary

        from .profiles import shifts_text

        described = {k: (" ".join(v) or "none") if k == "validation_songs" else shifts_text(v) if k == "voice_shifts"
                     else v for k, v in overrides.items()}
        change = ", ".join([f"profile {profile}"] + [f"{k.replace('validation_songs', 'hold-out')} {v}"
                                                     for k, v in described.items()])
        row = log_training_run(out, change, test=args.test, data_root=args.data_root,
                               budget=RECIPE_BUDGET if args.test else SCREENING_BUDGET)
        if args.test:
            print(format_summary(row | {"split": "test", "precision": "fp32"}))  # scored in Park's protocol
        else:
            print(f"validation ({row['validation_clips']} clips, step {row['best_step']}): voice / accompaniment "
                  f"GNSDR {row['validation_voice_gnsdr']:.2f} / {row['validation_accompaniment_gnsdr']:.2f} dB")
        print(f"logged in results/experiments.csv ({'recipe' if args.test else 'screening'} rows)")
    return 0


def _separate(args) -> int:
    from .audio import AudioError
    from .memory import reuse_freed_memory
    from .predict import expand_inputs, separate_file
    from .separate import Separator

    reuse_freed_memory(keep_heap=not args.wiener)  # each block reuses the memory the last one freed (`shsep.memory`)

    inputs = expand_inputs(args.inputs)  # a folder stands for the audio files in it
    separator = Separator.from_checkpoint(args.checkpoint, device=args.device, batch_size=args.batch_size,
                                          windowing=args.windowing, precision=args.precision, shifts=args.shifts,
                                          int8_runtime=args.int8_runtime)
    failed = 0
    for given, files in inputs:
        if files != [given]:
            print(f"{given}: a folder of {len(files)} audio file{'s' * (len(files) != 1)}")
        for path in files:
            try:
                result = separate_file(separator, path, args.out, band=args.band, stems=tuple(args.stems),
                                       file_format=args.file_format, channels=args.channels,
                                       high_band=args.high_band, wiener_iterations=args.wiener,
                                       voice_gain=args.voice_gain)
            except AudioError as error:  # one unreadable file does not stop the others
                print(f"shsep separate: error: {error}", file=sys.stderr)
                failed += 1
                continue
            print(result.describe(path))
    if failed:
        print(f"shsep separate: {failed} input{'s' * (failed != 1)} could not be separated (above)", file=sys.stderr)
    return 2 if failed else 0


def _evaluate(args) -> int:
    from .evaluate import evaluate
    from .metrics import format_summary

    options = {"high_band": args.high_band, "wiener_iterations": args.wiener,
               "voice_gain": args.voice_gain} if args.band == "full" else {}
    result = evaluate(args.checkpoint, args.split, args.data_root, args.evaluator, args.workers, args.max_clips,
                      args.clips, band=args.band, windowing=args.windowing, precision=args.precision,
                      post_filter=args.post_filter, shifts=args.shifts, int8_runtime=args.int8_runtime, **options)
    summary = result.summary()
    print(format_summary(summary))
    if args.out:
        result.save(args.out)
        print(f"per-clip scores and summary written to {args.out}")
    return 0


def _evaluate_musdb(args) -> int:
    from .musdb import evaluate_tracks, find_tracks, format_track_summary, summarise_tracks
    from .paths import atomic_path
    from .separate import Separator

    tracks = find_tracks(args.path, args.subset)
    print(f"{len(tracks)} track{'s' * (len(tracks) != 1)} in {args.path}")
    separator = Separator.from_checkpoint(args.checkpoint, device=args.device, windowing=args.windowing,
                                          precision=args.precision, shifts=args.shifts,
                                          int8_runtime=args.int8_runtime)
    per_track = evaluate_tracks(separator, tracks, channels=args.channels, high_band=args.high_band,
                                wiener_iterations=args.wiener, voice_gain=args.voice_gain)
    summary = summarise_tracks(per_track) | {"path": str(args.path), "windowing": args.windowing,
                                             "precision": separator.precision, "wiener": args.wiener,
                                             "channels": args.channels, "high_band": args.high_band,
                                             "voice_gain": args.voice_gain,
                                             "checkpoint": separator.checkpoint_label}
    print(per_track[["track", "vocals_sdr", "accompaniment_sdr"]].to_string(index=False, float_format="%.2f"))
    print(format_track_summary(summary))
    if args.out:
        with atomic_path(Path(args.out) / "per_track.csv") as temporary:
            per_track.to_csv(temporary, index=False, float_format="%.4f")
        with atomic_path(Path(args.out) / "summary.json") as temporary:
            temporary.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"per-track scores and summary written to {args.out}")
    return 0


def _score(args) -> int:
    from .evaluate import score_files

    row = score_files(args.voice, args.accompaniment, args.clips, args.data_root, args.evaluator)
    print(json.dumps(row, indent=2))
    return 0


def _ablations(args) -> int:
    from .evaluator_questions import run_evaluator_questions
    from .experiment_log import METRICS
    from .experiments import run_arms

    log = run_arms(args.budget, args.arms, args.rerun, data_root=args.data_root, device=args.device,
                   workers=args.workers)
    columns = ["arm", "parameters", "steps", "train_seconds", "clips_scored"] + METRICS
    print(log[columns].to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    if not args.no_questions:
        for question, table in run_evaluator_questions(args.budget, data_root=args.data_root,
                                                       rerun=args.rerun).items():
            print(f"\n{question} question:")
            print(table.drop(columns=["budget"]).to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0


def _export(args) -> int:
    from .checkpoints import export_weights

    print(export_weights(args.checkpoint, args.destination))
    return 0


def _export_int8(args) -> int:
    from .onnx_export import export_int8

    print(export_int8(args.checkpoint, args.destination, args.data_root))
    return 0


def _download(args) -> int:
    from .data import download_mir1k

    download_mir1k(*(x for x in [args.destination] if x))
    return 0


COMMANDS = {"train": _train, "separate": _separate, "evaluate": _evaluate, "evaluate-musdb": _evaluate_musdb,
            "score": _score,
            "ablations": _ablations, "export": _export, "export-int8": _export_int8,
            "download-mir1k": _download}

if __name__ == "__main__":
    sys.exit(main())
