import numpy as np
import pytest
import soundfile as sf
import torch

from shsep.checkpoints import CheckpointError
from shsep.data import DataError, get_clip, load_sources
from shsep.models import ModelConfig, build_model
from shsep.separate import Separator, separate_file, window_plan


@pytest.mark.parametrize("frames", [64, 65, 95, 96, 97, 128, 300, 1001])
def test_window_plan_fills_every_frame_once(frames):
    plan = window_plan(frames)
    filled = np.zeros(frames, int)
    for start, keep_from, keep_to in plan:
        assert start <= keep_from < keep_to <= start + 64
        filled[keep_from:keep_to] += 1
    assert np.all(filled == 1)
    assert plan[0][1] == 0 and plan[-1][0] == frames - 64
    for start, keep_from, keep_to in plan[1:-1]:
        assert (keep_from, keep_to) == (start + 16, start + 48)  # Park's centre crop


@pytest.fixture(scope="module")
def tiny_separator():
    torch.manual_seed(0)
    model = build_model(ModelConfig("park", channels=8, stacks=2, depth=2))
    with torch.no_grad():
        model.heads[-1].bias.fill_(0.5)  # masks of about 0.5: audible estimates
    return Separator(model, batch_size=8)


def test_batched_windows_equal_one_at_a_time(mir1k_root, tiny_separator):
    sources = load_sources(get_clip("annar_1_01", mir1k_root))
    batched = tiny_separator.separate(sources.mixture, 16000)
    single = Separator(tiny_separator.model, batch_size=1).separate(sources.mixture, 16000)
    for a, b in zip(batched, single):
        np.testing.assert_allclose(a, b, atol=1e-5)
        assert len(a) == len(sources.mixture)


def test_ideal_masks_through_the_synthesis_chain_recover_the_sources(mir1k_root):
    """Ideal masks + mixture phase + ISTFT + resampling back to 16 kHz: the chain separation uses."""
    from shsep.evaluate import score_estimates
    from shsep.spectrogram import PARK, resample

    sources = load_sources(get_clip("annar_1_01", mir1k_root))
    low = [resample(x, 16000, 8000) for x in (sources.mixture, sources.accompaniment, sources.voice)]
    mixture_spec, *source_specs = (PARK.analyse(x) for x in low)
    phase = np.exp(1j * np.angle(mixture_spec))
    estimates = [resample(PARK.synthesise(np.abs(s) * phase, length=len(low[0])), 8000, 16000)[: len(sources.mixture)]
                 for s in source_specs]
    row = score_estimates(np.stack([sources.accompaniment, sources.voice]), np.stack(estimates), sources.mixture)
    assert row["voice_nsdr"] > 8 and row["accompaniment_nsdr"] > 8, row


def write(path, audio, rate):
    sf.write(path, audio, rate)
    return path


@pytest.mark.parametrize("rate, channels, seconds", [(44100, 2, 3.0), (22050, 1, 2.0), (8000, 1, 0.01)])
def test_separate_file_keeps_rate_and_length(tmp_path, tiny_separator, rate, channels, seconds):
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((int(rate * seconds), channels)).astype(np.float32) * 0.1
    voice, accompaniment = separate_file(tiny_separator, write(tmp_path / "song.wav", audio, rate), tmp_path / "out",
                                         progress=False)
    assert voice.name == "song_voice.wav" and accompaniment.name == "song_accompaniment.wav"
    for path in (voice, accompaniment):
        info = sf.info(path)
        assert (info.samplerate, info.frames, info.channels) == (rate, len(audio), 1)


def test_long_files_are_separated_in_blocks_like_whole(tmp_path, tiny_separator, mir1k_root):
    sources = load_sources(get_clip("annar_1_01", mir1k_root))
    path = write(tmp_path / "clip.flac", sources.mixture, 16000)
    whole = separate_file(tiny_separator, path, tmp_path / "whole", progress=False)
    blocks = separate_file(tiny_separator, path, tmp_path / "blocks", block_seconds=2.0, margin_seconds=2.0, progress=False)
    a, b = sf.read(whole[0])[0], sf.read(blocks[0])[0]
    assert len(a) == len(b) == len(sources.mixture)
    error = np.sum((a - b) ** 2) / np.sum(a ** 2)
    assert error < 1e-3  # block seams with 2 s of context: at most -30 dB of difference


def test_mp3_input(tmp_path, tiny_separator):
    audio = np.sin(np.linspace(0, 2000, 44100)).astype(np.float32) * 0.3
    path = write(tmp_path / "wav.wav", audio, 44100)
    mp3 = tmp_path / "tone.mp3"
    try:
        sf.write(mp3, audio, 44100, format="MP3")
    except Exception:
        import shutil
        import subprocess

        if not shutil.which("ffmpeg"):
            pytest.skip("neither libsndfile nor ffmpeg can write mp3 here")
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), str(mp3)], check=True)
    voice, _ = separate_file(tiny_separator, mp3, tmp_path / "out", progress=False)
    assert sf.info(voice).samplerate == 44100


def test_silence_is_handled(tmp_path, tiny_separator):
    voice, accompaniment = separate_file(tiny_separator, write(tmp_path / "quiet.wav", np.zeros(16000, np.float32), 16000),
                                         tmp_path, progress=False)
    assert np.all(sf.read(voice)[0] == 0)


def test_missing_unreadable_and_empty_inputs(tmp_path, tiny_separator):
    with pytest.raises(DataError, match="input not found"):
        separate_file(tiny_separator, tmp_path / "nope.wav", tmp_path, progress=False)
    (tmp_path / "bad.mp3").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="cannot read"):
        separate_file(tiny_separator, tmp_path / "bad.mp3", tmp_path, progress=False)
    with pytest.raises(DataError, match="no audio samples"):
        separate_file(tiny_separator, write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000), tmp_path, progress=False)


def test_unwritable_output_directory(tmp_path, tiny_separator):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DataError, match="cannot write to output directory"):
        separate_file(tiny_separator, write(tmp_path / "a.wav", np.zeros(800, np.float32), 8000), blocker / "sub",
                      progress=False)


def test_checkpoint_of_wrong_architecture(tmp_path):
    from shsep.profiles import PROFILES

    config = PROFILES["smoke"].to_dict()
    weights = build_model(ModelConfig("report", channels=8, stacks=2, depth=2)).state_dict()
    torch.save({"model": weights, "config": config}, tmp_path / "wrong.pt")
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        Separator.from_checkpoint(tmp_path / "wrong.pt", device="cpu")
