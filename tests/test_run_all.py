"""`./run_all.sh` as a newcomer meets it: the series on the shipped model, training only when asked."""
import subprocess
from pathlib import Path

import pytest

from shsep.notebook import default_run_dir
from shsep.paths import PROJECT_ROOT, RUNS, SHIPPED_MODEL, SHIPPED_RUN, SONGS_MODEL, SONGS_RUN
from shsep.train import read_run_config, read_training_log

pytestmark = pytest.mark.skipif(not (PROJECT_ROOT / ".venv" / "bin" / "python").exists(), reason="needs .venv")


def dry_run(*arguments):
    done = subprocess.run([str(PROJECT_ROOT / "run_all.sh"), "--dry-run", *arguments], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_without_train_nothing_is_trained_and_every_notebook_reads_the_shipped_run():
    printed = dry_run()
    assert "[run_all] training:" not in printed and "shsep train" not in printed and "no training" in printed
    lines = [line for line in printed.splitlines() if line.startswith("[run_all] (")]
    assert len(lines) == len(list((PROJECT_ROOT / "notebooks").glob("0*.ipynb")))
    for line in lines:
        assert "-p profile cpu" in line
        assert "07_ablations" in line or f"-p run_dir {SHIPPED_RUN}" in line
    assert "-p train False" in next(line for line in lines if "04_training" in line)
    assert "-p train_missing_arms False" in next(line for line in lines if "07_ablations" in line)


def test_train_trains_first_and_passes_its_time_budget():
    printed = dry_run("--train", "--profile", "smoke", "--time-budget", "2h", "--only", "04")
    assert "training: shsep train --profile smoke --out runs/smoke --time-budget 2h" in printed
    assert f"-p run_dir {PROJECT_ROOT / 'runs' / 'smoke'} -p train True" in printed


def test_the_published_listening_notebook_leaves_the_real_songs_audio_out():
    published = dry_run("--publish", "--only", "06")
    assert "-p real_song_players False" in published
    assert "real_song_players" not in dry_run("--only", "06")  # a run of your own plays them


def test_a_time_budget_without_train_is_refused():
    done = subprocess.run([str(PROJECT_ROOT / "run_all.sh"), "--dry-run", "--time-budget", "2h"], capture_output=True,
                          text=True, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 2 and "add --train" in done.stderr


@pytest.mark.parametrize("profile, record, weights", [("cpu", SHIPPED_RUN, SHIPPED_MODEL),
                                                      ("songs", SONGS_RUN, SONGS_MODEL)])
def test_each_shipped_model_has_its_training_record_committed(profile, record, weights):
    """results/shipped_run/ and results/songs_run/ hold the configs the shipped weights were trained with (fields
    added since read as their defaults), and each network is its profile's today."""
    import torch

    from shsep.profiles import PROFILES, TrainConfig

    shipped = torch.load(weights, weights_only=True)
    config = read_run_config(record)
    assert config == TrainConfig.from_dict(shipped["config"])
    assert config.model == PROFILES[profile].model and config.validation_songs == ()
    log = read_training_log(record)
    assert log["step"].iloc[-1] == shipped["step"] == config.steps
    assert sum(f.stat().st_size for f in record.iterdir()) < 600_000  # light enough to commit


def test_notebooks_read_the_shipped_run_unless_a_run_was_trained(tmp_path, monkeypatch):
    import shsep.notebook as notebook

    assert default_run_dir("cpu", train=True) == RUNS / "cpu"
    monkeypatch.setattr(notebook, "RUNS", tmp_path)
    assert default_run_dir("cpu") == SHIPPED_RUN
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "checkpoint.pt").write_bytes(b"")
    assert default_run_dir("cpu") == Path(tmp_path / "cpu")
