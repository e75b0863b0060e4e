"""What `shsep separate` leaves behind: stems only when complete, folders as input, progress that suits a log."""
import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from shsep import cli
from shsep.audio import partial_path
from shsep.models import ModelConfig, build_model
from shsep.predict import expand_inputs, separate_file
from shsep.progress import Progress, progress_over
from shsep.separate import Separator


def write(path, seconds, rate=16000, channels=2, seed=0):
    audio = 0.1 * np.random.default_rng(seed).standard_normal((int(seconds * rate), channels)).astype(np.float32)
    sf.write(path, audio, rate)
    return path


@pytest.fixture
def tiny_model_cli(monkeypatch):
    """`shsep separate` in this process with a small untrained network in place of the shipped one."""
    from shsep import separate

    torch.manual_seed(0)
    model = build_model(ModelConfig("park", channels=8, stacks=2, depth=2))
    monkeypatch.setattr(separate.Separator, "from_checkpoint", classmethod(lambda cls, *a, **k: cls(model)))


def test_a_failed_write_in_the_background_is_raised_and_leaves_no_stem(tmp_path, monkeypatch):
    """Blocks are written in a thread while the next is computed: a write that fails (a full disk) stops the
    separation with its own error, and no stem or partial file is left."""
    from shsep.audio import StemWriter

    separator = Separator(build_model(ModelConfig("park", channels=8, stacks=2, depth=2)))
    song = write(tmp_path / "song.wav", 3.0)
    writes = []
    original = StemWriter.write

    def full_disk_on_the_third_write(self, block):
        writes.append(1)
        if len(writes) == 3:
            raise OSError(28, "No space left on device")
        return original(self, block)

    monkeypatch.setattr(StemWriter, "write", full_disk_on_the_third_write)
    with pytest.raises(OSError, match="No space left"):
        separate_file(separator, song, tmp_path / "out", block_seconds=1.0, margin_seconds=0.2, progress=False)
    assert sorted(os.listdir(tmp_path / "out")) == []


def test_a_full_disk_is_one_clear_line_from_the_command(tmp_path, monkeypatch, capsys, tiny_model_cli):
    import soundfile

    song = write(tmp_path / "song.wav", 1.0)

    def full_disk(self, data):
        raise soundfile.LibsndfileError(2, "Error writing file: ")  # libsndfile's "System error." (ENOSPC)

    monkeypatch.setattr(soundfile.SoundFile, "write", full_disk)
    assert cli.main(["separate", str(song), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "cannot write song_" in error and "Traceback" not in error
    assert sorted(os.listdir(tmp_path / "out")) == []


def test_an_interrupted_separation_leaves_no_stem_under_its_final_name(tmp_path, monkeypatch):
    torch.manual_seed(0)
    separator = Separator(build_model(ModelConfig("park", channels=8, stacks=2, depth=2)))
    song = write(tmp_path / "song.wav", 3.0)
    calls = []

    def fail_on_the_second_block(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    original = separator.apply_masks  # the full-band path's step per block
    monkeypatch.setattr(separator, "apply_masks", fail_on_the_second_block)
    with pytest.raises(KeyboardInterrupt):
        separate_file(separator, song, tmp_path / "out", block_seconds=1.0, margin_seconds=0.2, progress=False)
    assert sorted(os.listdir(tmp_path / "out")) == []  # neither the stems nor their partial files
    monkeypatch.undo()
    result = separate_file(separator, song, tmp_path / "out", block_seconds=1.0, margin_seconds=0.2, progress=False)
    assert sorted(os.listdir(tmp_path / "out")) == ["song_accompaniment.wav", "song_voice.wav"]
    assert sf.info(result.stems.voice).frames == 48000


@pytest.mark.slow
@pytest.mark.mir1k
def test_a_killed_shsep_separate_leaves_no_stem_and_the_next_run_completes(tmp_path, mir1k_root):
    """A real `shsep separate` process with the shipped model, killed (SIGKILL) while it writes."""
    song = write(tmp_path / "long.flac", 240.0, rate=16000, channels=1)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "shsep.cli", "separate", str(song), "-o", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    partial = partial_path(out / "long_voice.wav")
    while not partial.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed: " + process.stderr.read().decode()
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "long_voice.wav").exists() and not (out / "long_accompaniment.wav").exists()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == ["long_accompaniment.wav", "long_voice.wav"]  # the partial files overwritten
    assert sf.info(out / "long_voice.wav").frames == 240 * 16000


def test_a_folder_stands_for_the_audio_files_in_it(tmp_path, tiny_model_cli, capsys):
    songs = tmp_path / "songs"
    songs.mkdir()
    for name in ("b.wav", "a.flac"):
        write(songs / name, 0.5, rate=22050)
    (songs / "notes.txt").write_text("not audio")
    (songs / ".hidden.wav").write_bytes(b"")
    (songs / "sub").mkdir()
    write(songs / "sub" / "c.wav", 0.5)
    assert [p.name for p in expand_inputs([songs])[0][1]] == ["a.flac", "b.wav"]
    assert cli.main(["separate", str(songs), "-o", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"{songs}: a folder of 2 audio files"
    assert len(printed) == 3 and printed[1].startswith(str(songs / "a.flac"))
    assert sorted(os.listdir(tmp_path / "out")) == ["a_accompaniment.wav", "a_voice.wav", "b_accompaniment.wav",
                                                    "b_voice.wav"]


def test_a_folder_without_audio_and_a_bad_file_among_good_ones(tmp_path, tiny_model_cli, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["separate", str(empty)]) == 2
    assert "is a folder without audio files" in capsys.readouterr().err
    good = write(tmp_path / "good.wav", 0.5)
    (tmp_path / "bad.mp3").write_bytes(b"\x00" * 100)
    assert cli.main(["separate", str(tmp_path / "bad.mp3"), str(good), "-o", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert "cannot read" in captured.err and "1 input could not be separated" in captured.err
    assert (tmp_path / "out" / "good_voice.wav").is_file()  # the good file was still separated


def test_progress_in_a_log_file_writes_a_line_per_tenth_at_most():
    log = io.StringIO()
    for _ in progress_over(range(700), description="evaluate", unit="clips", stream=log, terminal=False):
        pass
    lines = log.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in log.getvalue()  # 9 at each tenth, and the last
    assert lines[0].startswith("evaluate: 70/700 clips (10 %), elapsed") and "remaining" in lines[0]
    assert lines[-1].startswith("evaluate: 700/700 clips (100 %)") and "remaining" not in lines[-1]


def test_progress_in_a_log_file_also_writes_every_30_seconds(monkeypatch):
    import shsep.progress as progress_module

    now = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    log = io.StringIO()
    progress = Progress(1000, "train", unit="steps", every_fraction=0.05, stream=log, terminal=False)
    for step in range(10):
        now[0] += 31.0  # a slow run: 10 steps, 1 % of it, in five minutes
        progress.update(1, loss="0.0123")
    progress.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 11 and lines[0].endswith("loss 0.0123")
    assert "train: 1/1000 steps (0 %), elapsed 31 s, remaining ~8 h 36 min" in lines[0]


def test_progress_on_a_terminal_draws_a_bar_and_training_keeps_milestone_lines():
    screen = io.StringIO()
    progress = Progress(100, "train", unit="steps", every_fraction=0.05, stream=screen, terminal=True,
                        milestone_lines=True)
    for _ in range(100):
        progress.update(1, loss="0.5")
    progress.close()
    text = screen.getvalue()
    assert "\r" in text  # the bar redraws in place
    import re

    assert len(re.findall(r"train: \d+/100 steps \(\d+ %\)", text)) == 19  # whole lines at 5 %, 10 %, ... 95 %


def test_progress_takes_a_new_total_mid_run():
    """A time budget's steps fitted again mid-run: the lines count to the new total, a milestone every 5 % of it."""
    log = io.StringIO()
    progress = Progress(100, "train", unit="steps", every_fraction=0.05, stream=log, terminal=False,
                        every_seconds=1e9)
    progress.update(10)
    progress.set_total(200)
    progress.update(10)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("train: 10/100 steps (10 %)")
    assert lines[-1].startswith("train: 20/200 steps (10 %)")  # 5 % of the new total: every 10 steps
    screen = io.StringIO()
    bar = Progress(100, "train", unit="steps", stream=screen, terminal=True)
    bar.set_total(200)
    assert bar.bar.total == 200
    bar.close()
