import subprocess
import sys

import pytest

from shsep import cli


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
    for name in cli.SUBCOMMANDS:
        with pytest.raises(SystemExit) as exit_:
            cli.main([name, "--help"])
        assert exit_.value.code == 0


def test_cli_choices_match_the_library():
    from shsep.masking import HIGH_BAND
    from shsep.separate import CHANNEL_MODES, Stems

    parser = cli.build_parser(["separate"])
    separate = parser._subparsers._group_actions[0].choices["separate"]
    choices = {a.dest: a.choices for a in separate._actions if a.choices}
    assert list(choices["high_band"]) == list(HIGH_BAND)
    assert list(choices["channels"]) == list(CHANNEL_MODES)
    assert list(choices["stems"]) == list(reversed(Stems._fields))
