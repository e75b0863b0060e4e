import subprocess
import sys

import pytest

from shsep import cli, cli_args


def test_help_and_argument_errors_do_not_import_the_heavy_parts():
    """`shsep --help` and a bad command answer without importing torch, pandas or librosa (a fast start)."""
    code = ("import sys\nfrom shsep.cli import main\n"
            "for argv in (['--help'], ['bogus'], ['separate', '--band', 'wide', 'x.wav']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('torch', 'pandas', 'librosa') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "invalid choice: 'wide'" in result.stderr


def test_every_command_builds_its_arguments():
    for name in cli_args.SUBCOMMANDS:
        with pytest.raises(SystemExit) as exit_:
            cli.main([name, "--help"])
        assert exit_.value.code == 0


def _arguments(command: str) -> list:
    """One subcommand's arguments, as its parser builds them."""
    return cli_args.build_parser([command])._subparsers._group_actions[0].choices[command]._actions


def _argument_choices(command: str) -> dict:
    """{argument: its choices} of one subcommand."""
    return {a.dest: a.choices for a in _arguments(command) if a.choices}


def test_cli_choices_match_the_library():
    from shsep.masking import HIGH_BAND
    from shsep.separate import CHANNEL_MODES, Stems

    choices = _argument_choices("separate")
    assert list(choices["high_band"]) == list(HIGH_BAND)
    assert list(choices["channels"]) == list(CHANNEL_MODES)
    assert list(choices["stems"]) == list(reversed(Stems._fields))


def test_cli_network_choices_match_the_library():
    """--windowing, --precision and --post-filter are written out in the CLI (so that --help needs no torch)."""
    from shsep.networks import PRECISIONS
    from shsep.separate import POST_FILTERS
    from shsep.windowing import WINDOWINGS

    choices = _argument_choices("evaluate")
    assert list(choices["windowing"]) == list(WINDOWINGS)
    assert list(choices["precision"]) == list(PRECISIONS)
    assert list(choices["post_filter"]) == list(POST_FILTERS)
    from shsep.train.step import TRAINING_PRECISIONS

    assert list(_argument_choices("train")["precision"]) == list(TRAINING_PRECISIONS)


def _argument_defaults(command: str) -> dict:
    return {a.dest: a.default for a in _arguments(command)}


def test_the_song_commands_give_the_voice_its_gain_for_songs_and_evaluate_keeps_the_networks_masks():
    from shsep.masking import DEFAULT_VOICE_GAIN, SONGS_VOICE_GAIN

    assert SONGS_VOICE_GAIN != DEFAULT_VOICE_GAIN == 1
    assert _argument_defaults("separate")["voice_gain"] == SONGS_VOICE_GAIN
    assert _argument_defaults("evaluate-musdb")["voice_gain"] == SONGS_VOICE_GAIN
    assert _argument_defaults("evaluate")["voice_gain"] == DEFAULT_VOICE_GAIN


@pytest.mark.parametrize("command", ["separate", "evaluate-musdb", "evaluate"])
def test_checkpoint_given_twice_averages_two_models_and_none_means_the_default(command):
    from pathlib import Path

    positional = {"separate": ["x.wav"], "evaluate-musdb": ["x"], "evaluate": []}[command]
    parser = cli_args.build_parser([command])
    assert parser.parse_args([command, *positional]).checkpoint is None
    given = parser.parse_args([command, "--checkpoint", "a.pt", *positional, "--checkpoint", "b.pt"])
    assert given.checkpoint == [Path("a.pt"), Path("b.pt")]


@pytest.mark.parametrize("command", ["separate x.wav", "evaluate-musdb x"])
def test_a_voice_gain_that_is_not_positive_is_refused_by_the_parser(command, capsys):
    for bad, message in (("0", "must be a positive number, not 0"), ("-1", "must be a positive number, not -1"),
                         ("inf", "must be a positive number, not inf"), ("two", "a number is needed, not 'two'")):
        with pytest.raises(SystemExit) as exit_:
            cli.main(command.split() + ["--voice-gain", bad])
        assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["separate x.wav", "evaluate"])
def test_shifts_below_one_are_refused_by_the_parser(command, capsys):
    for bad, message in (("0", "must be at least 1, not 0"), ("two", "a whole number is needed, not 'two'")):
        with pytest.raises(SystemExit) as exit_:
            cli.main(command.split() + ["--shifts", bad])
        assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_train_overrides_the_profiles_network(tmp_path, mir1k_root, capsys):
    """`shsep train --channels/--growth/--stacks/--loss/--learning-rate` train a variant of a profile; the run
    records it."""
    import json

    assert cli.main(["train", "--profile", "smoke", "--steps", "2", "--channels", "12", "--growth", "4",
                     "--stacks", "1", "--loss", "log-l1", "--learning-rate", "3e-3", "--target", "abs-ratio",
                     "--out", str(tmp_path / "run"), "--data-root", str(mir1k_root)]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    model = config["model"]
    assert (model["channels"], model["growth"], model["stacks"]) == (12, 4, 1)
    assert (config["loss"], config["learning_rate"], config["target"]) == ("log-l1", 3e-3, "abs-ratio")
    assert "training profile 'smoke' for 2 steps" in capsys.readouterr().out


def test_time_budgets_read_as_durations(capsys):
    assert [cli_args.duration(text) for text in ("7200", "7200s", "90m", "2h", "1.5H")] == [7200, 7200, 5400, 7200, 5400]
    for bad, message in (("two hours", "not a duration: 'two hours'"), ("0", "must be positive and finite, not '0'"),
                         ("-1h", "must be positive"), ("inf", "finite, not 'inf'"), ("nan", "finite, not 'nan'")):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["train", "--profile", "smoke", f"--time-budget={bad}"])
        assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_train_fits_a_time_budget(tmp_path, mir1k_root, capsys, monkeypatch):
    """`shsep train --time-budget` times the steps here and records the steps it chose in the run's config."""
    import json

    import shsep.train.budget as training

    monkeypatch.setattr(training, "time_training_steps", lambda *args, **kwargs: 1.5)  # 20 s × 0.93 / 1.5 s: 12
    assert cli.main(["train", "--profile", "smoke", "--time-budget", "20s", "--out", str(tmp_path / "run"),
                     "--data-root", str(mir1k_root)]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    out = capsys.readouterr().out
    assert (config["time_budget"], config["steps"]) == (20, 12)
    assert "for what fits 20 s of training" in out and "1.500 s per step here, so 12 steps" in out
    monkeypatch.setattr(training, "time_training_steps", lambda *args, **kwargs: 10.0)
    assert cli.main(["train", "--profile", "smoke", "--time-budget", "20s", "--out", str(tmp_path / "short"),
                     "--data-root", str(mir1k_root)]) == 2
    assert "pays for 1 steps at 10.000 s per step" in capsys.readouterr().err


def test_hold_out_chooses_the_validation_songs(tmp_path, monkeypatch, capsys):
    """`--hold-out SONG ...` holds songs out of the cpu profile's refit on every clip; `--hold-out` alone none."""
    import shsep.train as training
    from shsep.profiles import VALIDATION_SONGS

    chosen = []
    monkeypatch.setattr(training, "train", lambda config, out, **kwargs: chosen.append(config) or out)
    for argv, songs in (([], ()), (["--hold-out", *VALIDATION_SONGS], VALIDATION_SONGS), (["--hold-out"], ()),
                        (["--hold-out", "amy_3"], ("amy_3",))):
        assert cli.main(["train", "--profile", "cpu", "--out", str(tmp_path / "run")] + argv) == 0
        assert chosen[-1].validation_songs == songs


def test_train_takes_the_augmentation_and_front_end_options_and_logs_a_screening_row(tmp_path, monkeypatch, capsys):
    """`--voice-shift/--voice-shifts/--equaliser-db/--reverb/--compression/--sample-rate/--short-patches/
    --early-stack-weight/--batch-size/--learning-rate/--warmup-steps/--input-power/--dense-frequency` reach the config;
    `--log` logs the validation figure alone."""
    import shsep.experiments as experiments
    from shsep import recipe_search
    import shsep.train as training

    chosen, logged = [], []
    monkeypatch.setattr(training, "train", lambda config, out, **kwargs: chosen.append(config) or out)
    monkeypatch.setattr(experiments, "log_training_run", lambda out, change, **kwargs: logged.append((change, kwargs))
                        or {"validation_clips": 43, "best_step": 1500, "validation_voice_gnsdr": 6.0,
                            "validation_accompaniment_gnsdr": 5.0})
    assert cli.main(["train", "--profile", "cpu", "--out", str(tmp_path / "run"), "--voice-shift", "0.5",
                     "--equaliser-db", "6", "--reverb", "0.25", "--compression", "0.5", "--sample-rate", "16000", "--hold-out", "abjones",
                     "--voice-shifts", "-2", "-1", "1", "2", "--short-patches", "0.5", "--early-stack-weight", "0.25",
                     "--batch-size", "4", "--learning-rate", "2e-3", "--warmup-steps", "1000", "--input-power", "0.5", "--log"]) == 0
    config = chosen[-1]
    assert (config.voice_shift, config.equaliser_db, config.reverb, config.compression, config.front_end.sample_rate,
            config.voice_shifts, config.short_patches) == (0.5, 6.0, 0.25, 0.5, 16000, (-2, -1, 1, 2), 0.5)
    change, options = logged[-1]
    assert options["test"] is False and options["budget"] == "screening"
    assert "voice_shift 0.5" in change and "hold-out abjones" in change and "voice_shifts -2 -1 +1 +2" in change
    assert "short_patches 0.5" in change and "early_stack_weight 0.25" in change and config.early_stack_weight == 0.25
    assert (config.learning_rate, config.warmup_steps) == (2e-3, 1000) and "warmup_steps 1000" in change
    assert config.batch_size == 4 and "batch_size 4" in change
    # what the network reads, for the profile's network and the time budget's narrower one alike
    assert config.model.input_power == config.budget_model.input_power == 0.5 and "input_power 0.5" in change
    assert "input_power" in recipe_search.RECIPE_COLUMNS and recipe_search.LATER_COLUMN_DEFAULTS["input_power"] == 1
    # dense layers across frequency: a network chosen by hand, built for the front end's bins, is the one trained
    assert cli.main(["train", "--profile", "songs", "--out", str(tmp_path / "dense"), "--dense-frequency", "--log"]) == 0
    config, (change, _) = chosen[-1], logged[-1]
    assert config.model.dense_frequency_bins == 512 and config.budget_model is None
    assert "dense_frequency_bins 512" in change and recipe_search.LATER_COLUMN_DEFAULTS["dense_frequency_bins"] == 0
    assert cli.main(["train", "--profile", "cpu", "--out", str(tmp_path / "full"), "--dense-full-resolution", "--log"]) == 0
    config, (change, _) = chosen[-1], logged[-1]
    assert config.model.dense_full_resolution and config.model.dense_frequency_bins == 512
    assert "dense_full_resolution True" in change and recipe_search.LATER_COLUMN_DEFAULTS["dense_full_resolution"] is False
    assert recipe_search.LATER_COLUMN_DEFAULTS["early_stack_weight"] == 1  # rows logged before the option existed
    assert "short_patches" in recipe_search.RECIPE_COLUMNS and recipe_search.LATER_COLUMN_DEFAULTS["short_patches"] == 0
    assert "GNSDR 6.00 / 5.00 dB" in capsys.readouterr().out


def test_every_data_lever_is_an_option_a_batch_argument_and_a_logged_column():
    """A lever named in `profiles.AUGMENTATION_FIELDS` reaches `TrainingBatches`; a logged one is a `shsep train`
    option and a column the experiment log and the recipe comparison read."""
    import inspect

    from shsep import recipe_search
    from shsep.cli_args import build_parser
    from shsep.dataset import TrainingBatches
    from shsep.profiles import AUGMENTATION_FIELDS, LOGGED_LEVERS, TrainConfig, get_profile

    assert set(AUGMENTATION_FIELDS) <= set(inspect.signature(TrainingBatches).parameters)
    assert set(get_profile("cpu").augmentation()) == set(AUGMENTATION_FIELDS)
    assert LOGGED_LEVERS == ("remix", "voice_shift", "voice_formants", "equaliser_db", "reverb", "compression",
                            "accompaniment_shift", "accompaniment_layers")
    assert set(LOGGED_LEVERS) <= set(AUGMENTATION_FIELDS) <= set(TrainConfig.__dataclass_fields__)
    for lever in LOGGED_LEVERS:
        argv = ["train", f"--{lever.replace('_', '-')}", "0.5"]
        args = build_parser(argv).parse_args(argv)
        assert getattr(args, lever) == 0.5
        assert lever in recipe_search.RECIPE_COLUMNS and lever in recipe_search.LATER_COLUMN_DEFAULTS
    argv = ["train", "--voice-shift", "0.5", "--voice-shifts", "-2", "-1", "1", "2"]
    args = build_parser(argv).parse_args(argv)
    assert args.voice_shifts == [-2, -1, 1, 2]
    assert recipe_search.LATER_COLUMN_DEFAULTS["voice_shifts"] == "-4 -2 +2 +4"
    assert "voice_shifts" in recipe_search.RECIPE_COLUMNS


@pytest.mark.parametrize("command, says", [("train", "the same command with --resume"),
                                           ("separate x.wav", "none is left half-written"), ("evaluate", "interrupted")])
def test_an_interruption_ends_with_a_line_saying_what_is_kept(command, says, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, command.split()[0], interrupted)
    assert cli.main(command.split()) == 130
    error = capsys.readouterr().err
    assert f"shsep {command.split()[0]}: interrupted" in error and says in error and "Traceback" not in error


def test_budget_batch_size_sets_the_cheaper_networks_batch(tmp_path, monkeypatch, capsys):
    """`--budget-batch-size` sets the batch of the network a time budget trains on a CPU without native bf16, and
    keeps it when `--batch-size` sets the profile's own; it takes whole numbers from 1, and is refused where no
    cheaper network would train."""
    import shsep.train as training

    chosen = []
    monkeypatch.setattr(training, "train", lambda config, out, **kwargs: chosen.append(config) or out)
    assert cli.main(["train", "--profile", "cpu", "--out", str(tmp_path / "run"), "--budget-batch-size", "2"]) == 0
    assert (chosen[-1].batch_size, chosen[-1].budget_batch_size) == (8, 2)  # the profile's: 8 and 4
    assert cli.main(["train", "--profile", "cpu", "--out", str(tmp_path / "run"), "--budget-batch-size", "1",
                     "--batch-size", "16"]) == 0
    assert (chosen[-1].batch_size, chosen[-1].budget_batch_size) == (16, 1)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--profile", "cpu", "--budget-batch-size", "0"])
    assert exit_.value.code == 2 and "must be at least 1, not 0" in capsys.readouterr().err
    for without_a_cheaper_network in (["--profile", "cpu", "--channels", "32"], ["--profile", "smoke"]):
        assert cli.main(["train", *without_a_cheaper_network, "--budget-batch-size", "2"]) == 2
        assert "and this run has none (a network given by hand" in capsys.readouterr().err
