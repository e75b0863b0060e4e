import numpy as np
import pytest
import torch

from shsep.models import ModelConfig, build_model
from shsep.musdb import TrackAudio
from shsep.separate import Separator
from shsep.song_masks import diagnose, mask_shares

RATE = 44100


def test_mask_shares_count_the_voice_missed_and_the_accompaniment_kept():
    voice = np.array([[3.0, 0.0], [0.0, 4.0]], np.complex64)  # energy 25
    accompaniment = np.array([[0.0, 5.0], [10.0, 0.0]], np.complex64)  # energy 125
    assert mask_shares(np.zeros((2, 2)), voice, accompaniment) == {"voice_missed": 1.0, "accompaniment_kept": 0.0,
                                                                    "mean_mask": 0.0}
    assert mask_shares(np.ones((2, 2)), voice, accompaniment)["accompaniment_kept"] == pytest.approx(5.0)
    half = mask_shares(np.array([[1.0, 0.0], [0.0, 0.5]]), voice, accompaniment)
    assert half["voice_missed"] == pytest.approx(0.25 * 16 / 25) and half["accompaniment_kept"] == 0.0
    with pytest.raises(ValueError, match="silent"):
        mask_shares(np.ones((2, 2)), 0 * voice, accompaniment)


def _tone_song(seconds=3.0):
    """A stereo 'song': a voice of harmonics of 220 Hz and an accompaniment of harmonics of 1234 Hz."""
    t = np.arange(int(seconds * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 6)).astype(np.float32) * 0.1
    accompaniment = sum(np.sin(2 * np.pi * 1234 * k * t) / k for k in range(1, 3)).astype(np.float32) * 0.2
    vocals, backing = np.stack([voice, voice]), np.stack([accompaniment, 0.5 * accompaniment])
    return TrackAudio(RATE, vocals + backing, vocals, backing)


def test_the_ideal_mask_keeps_apart_what_is_apart_and_the_voice_gain_keeps_more_voice():
    torch.manual_seed(0)
    model = build_model(ModelConfig("park", channels=8, stacks=1, depth=2))
    with torch.no_grad():
        model.heads[-1].bias.fill_(0.5)  # masks of about 0.5
    rows = {row["mask"]: row for row in diagnose(Separator(model), _tone_song(), voice_gains=(1.0, 2.0))}
    assert list(rows) == ["voice gain 1", "voice gain 2", "ideal 8 kHz mask"]
    ideal = rows["ideal 8 kHz mask"]
    assert ideal["voice_missed"] < 0.05 and ideal["accompaniment_kept"] < 0.05
    assert 0.1 < ideal["voice_share"] < 0.9
    # an untrained network's masks are poor, but a gain of 2 makes them keep more of everything
    assert rows["voice gain 2"]["mean_mask"] > rows["voice gain 1"]["mean_mask"]
    assert rows["voice gain 2"]["voice_missed"] < rows["voice gain 1"]["voice_missed"]
    assert rows["voice gain 2"]["accompaniment_kept"] > rows["voice gain 1"]["accompaniment_kept"]
