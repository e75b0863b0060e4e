import numpy as np
import pytest
import soundfile as sf

from shsep.data import (DataError, find_root, get_clip, index_clips, load_sources, load_stereo,
                        read_frame_labels, TRAIN_SINGERS)


def test_index_splits_follow_park(mir1k_root):
    train = index_clips(mir1k_root, "train")
    test = index_clips(mir1k_root, "test")
    assert len(train) == 175
    assert {c.singer for c in train} == set(TRAIN_SINGERS)
    assert all(c.singer not in TRAIN_SINGERS for c in test)
    assert len(test) >= 1
    print(f"{len(train)} train clips, {len(test)} test clips present")


def test_clip_fields_and_labels(mir1k_root):
    clip = get_clip("amy_4_01", mir1k_root)
    assert (clip.singer, clip.song, clip.clip, clip.split) == ("amy", 4, 1, "train")
    assert clip.sample_rate == 16000 and 3 < clip.duration < 15
    vocal = read_frame_labels(clip.vocal_label)
    pitch = read_frame_labels(clip.pitch_label)
    assert set(np.unique(vocal)) <= {0.0, 1.0}
    assert abs(len(vocal) - clip.duration / 0.02) < 3 and len(pitch) == len(vocal)


def test_load_sources_channels_and_rates(mir1k_root):
    clip = get_clip("amy_4_01", mir1k_root)
    stereo = load_stereo(clip)
    at16 = load_sources(clip)
    assert stereo.shape == (2, clip.num_samples)
    np.testing.assert_allclose(at16.accompaniment, stereo[0])
    np.testing.assert_allclose(at16.voice, stereo[1])
    np.testing.assert_allclose(at16.mixture, stereo.mean(axis=0))
    at8 = load_sources(clip, 8000)
    assert at8.sample_rate == 8000 and abs(len(at8.mixture) - clip.num_samples / 2) <= 1
    np.testing.assert_allclose(at8.mixture, (at8.accompaniment + at8.voice) / 2, atol=1e-6)


def _fake_root(tmp_path, name="amy_1_01.wav", channels=2, rate=16000, samples=16000):
    (tmp_path / "Wavfile").mkdir(parents=True, exist_ok=True)
    sf.write(tmp_path / "Wavfile" / name, np.zeros((samples, channels), np.float32), rate)
    return tmp_path


def test_root_not_found_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match="not found.*nowhere"):
        find_root(tmp_path / "nowhere")


def test_wav_layout_is_accepted(tmp_path):
    root = _fake_root(tmp_path)
    assert [c.id for c in index_clips(root)] == ["amy_1_01"]


def test_mono_file_is_refused(tmp_path):
    root = _fake_root(tmp_path, channels=1)
    with pytest.raises(DataError, match="1 channel"):
        load_stereo(index_clips(root)[0])


def test_wrong_sample_rate_is_refused(tmp_path):
    root = _fake_root(tmp_path, rate=44100)
    with pytest.raises(DataError, match="44100 Hz"):
        load_stereo(index_clips(root)[0])


def test_truncated_file_is_refused(tmp_path):
    root = _fake_root(tmp_path)
    path = root / "Wavfile" / "amy_1_01.wav"
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DataError, match="cannot read"):
        index_clips(root)


def test_unreadable_file_is_refused(tmp_path):
    root = _fake_root(tmp_path)
    (root / "Wavfile" / "amy_1_02.flac").write_bytes(b"not audio at all")
    with pytest.raises(DataError, match="amy_1_02.flac"):
        index_clips(root)


def test_empty_split_is_refused(tmp_path):
    root = _fake_root(tmp_path)  # only a training clip
    with pytest.raises(DataError, match="no test clips"):
        index_clips(root, "test")


def test_bad_clip_name_is_refused(tmp_path):
    root = _fake_root(tmp_path, name="song.wav")
    with pytest.raises(DataError, match="not a MIR-1K clip name"):
        index_clips(root)
