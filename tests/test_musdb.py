"""`shsep evaluate-musdb`: MUSDB18 layouts read (WAV stem folders and .stem files via ffmpeg), BSS-eval v4 medians."""
import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from shsep import cli, musdb
from shsep.audio import AudioError
from shsep.masking import SONGS_VOICE_GAIN
from shsep.separate import Stems

RATE = 22050


def stems(seed, seconds=3.0):
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    tone = np.sin(2 * np.pi * 220 * np.arange(n) / RATE)
    parts = {"vocals": 0.3 * tone * (rng.random() + 0.5), "drums": 0.1 * rng.standard_normal(n),
             "bass": 0.2 * np.sin(2 * np.pi * 55 * np.arange(n) / RATE), "other": 0.05 * rng.standard_normal(n)}
    parts = {k: np.stack([v, 0.8 * v]).astype(np.float32) for k, v in parts.items()}  # stereo
    parts["mixture"] = sum(parts.values())
    return parts


def write_folder_track(folder, parts):
    folder.mkdir(parents=True)
    for name, audio in parts.items():
        sf.write(folder / f"{name}.wav", audio.T, RATE, subtype="FLOAT")


def write_stem_file(path, parts, tmp_path):
    """A MUSDB18-style stem file: five ALAC streams (lossless) in the order mixture, drums, bass, other, vocals."""
    inputs = []
    for name in musdb.STEM_STREAMS:
        wav = tmp_path / f"{path.stem}-{name}.wav"
        sf.write(wav, parts[name].T, RATE, subtype="PCM_24")
        inputs += ["-i", str(wav)]
    maps = [arg for k in range(5) for arg in ("-map", str(k))]
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, *maps, "-c:a", "alac", str(path)], check=True)


class Oracle:
    """A stand-in separator that returns the true stems with a little noise (an exact estimate's SDR is infinite)."""

    def __init__(self, truth):
        self.truth, self.options = truth, []

    def separate_full_band(self, audio, rate, **options):
        self.options.append(options)
        vocals, rest = self.truth[round(float(np.abs(audio).sum()), 2)]
        noise = np.random.default_rng(0).standard_normal(rest.shape).astype(np.float32)
        return Stems(rest + 0.01 * noise, vocals + 0.001 * noise)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_both_layouts_are_read_and_an_exact_separation_scores_high(tmp_path):
    root = tmp_path / "musdb"
    first, second = stems(0), stems(1)
    write_folder_track(root / "test" / "Folder Song", first)
    (root / "train").mkdir(parents=True)
    write_stem_file(root / "train" / "Stem Song.stem.m4a", second, tmp_path)
    tracks = musdb.find_tracks(root)
    assert [t.name for t in tracks] == ["Folder Song", "Stem Song"]
    assert [t.name for t in musdb.find_tracks(root, "test")] == ["Folder Song"]
    truth = {}
    for track, parts in zip(tracks, (first, second)):
        audio = musdb.read_track(track)
        assert audio.rate == RATE and audio.mixture.shape == (2, 3 * RATE)
        expected = parts["drums"] + parts["bass"] + parts["other"]
        np.testing.assert_allclose(audio.accompaniment, expected, atol=1e-5)  # the other stems' sum
        np.testing.assert_allclose(audio.vocals, parts["vocals"], atol=1e-5)
        truth[round(float(np.abs(audio.mixture).sum()), 2)] = (audio.vocals, audio.accompaniment)
    oracle = Oracle(truth)
    per_track = musdb.evaluate_tracks(oracle, tracks, progress=False)
    assert oracle.options == [{"voice_gain": SONGS_VOICE_GAIN}] * 2  # separated as `shsep separate` does
    musdb.evaluate_tracks(oracle, tracks[:1], progress=False, voice_gain=1.0, high_band="zero")
    assert oracle.options[-1] == {"voice_gain": 1.0, "high_band": "zero"}
    assert list(per_track["frames"]) == [3, 3]
    assert (per_track["vocals_sdr"] > 30).all() and (per_track["accompaniment_sdr"] > 20).all()
    summary = musdb.summarise_tracks(per_track)
    assert summary["tracks"] == 2 and summary["vocals_sdr"] == pytest.approx(per_track["vocals_sdr"].median())


def test_the_command_scores_a_folder_and_writes_per_track_scores(tmp_path, monkeypatch, capsys):
    from shsep import separate
    from shsep.models import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig("park", channels=8, stacks=2, depth=2))
    monkeypatch.setattr(separate.Separator, "from_checkpoint", classmethod(lambda cls, *a, **k: cls(model)))
    write_folder_track(tmp_path / "songs" / "A Song", stems(2))
    parts = stems(3)
    del parts["drums"], parts["bass"], parts["other"]  # any folder with a vocals stem: accompaniment = mixture − vocals
    write_folder_track(tmp_path / "songs" / "B Song", parts)
    assert cli.main(["evaluate-musdb", str(tmp_path / "songs"), "--out", str(tmp_path / "scores")]) == 0
    printed = capsys.readouterr().out
    assert "2 tracks in" in printed and "2 tracks scored (museval BSS-eval v4" in printed
    per_track = pd.read_csv(tmp_path / "scores" / "per_track.csv")
    assert list(per_track["track"]) == ["A Song", "B Song"] and per_track["vocals_sdr"].notna().all()
    summary = json.loads((tmp_path / "scores" / "summary.json").read_text())
    assert summary["tracks"] == 2 and summary["windowing"] == "long"


def test_no_tracks_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AudioError, match="no tracks in"):
        musdb.find_tracks(tmp_path / "empty")
    assert cli.main(["evaluate-musdb", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
