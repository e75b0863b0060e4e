"""Notebook 08's measurements: MIR-1K's frame labels, their alignment, frame-level errors, the SNR remix."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from shsep import failure_analysis as fa
from shsep import failure_findings as ff
from shsep.data import DataError, Sources, get_clip, load_sources


def test_labels_are_read_on_one_grid_and_missing_ones_named(mir1k_root):
    clip = get_clip("Ani_1_01", mir1k_root)
    labels = fa.read_labels(clip)
    samples = len(load_sources(clip).mixture)
    assert len(labels.vocal) == len(labels.pitch) == (samples - fa.LABEL_WINDOW) // fa.LABEL_HOP + 1
    assert labels.vocal.dtype == bool and labels.vocal.any() and (labels.pitch[labels.vocal] > 0).mean() > 0.8
    with pytest.raises(DataError, match=r"no vocal-nonvocalLabel/Ani_1_01\.vocal and no PitchLabel/Ani_1_01\.pv"):
        fa.read_labels(replace(clip, vocal_label=None, pitch_label=None))


def test_frame_energy_sums_the_40_ms_frames_centred_every_20_ms():
    signal = np.zeros(16000)
    signal[1000] = 2.0  # one sample: in the frames whose 640 samples cover sample 1000
    energy = fa.frame_energy(signal, 10, offset=320)
    covering = [k for k in range(10) if 320 + 320 * k - 320 <= 1000 < 320 + 320 * k + 320]
    assert np.flatnonzero(energy).tolist() == covering == [2, 3] and energy[2] == pytest.approx(4.0)
    assert fa.frame_energy(np.ones(1600), 4, offset=320).tolist() == [640.0] * 4


def test_the_alignment_scan_finds_a_known_offset():
    rng = np.random.default_rng(0)
    vocal = np.repeat(rng.random(40) > 0.5, 10)  # sung phrases of 10 frames (200 ms)
    labels = [fa.FrameLabels(vocal, np.where(vocal, 60.0, 0.0))]
    # frame k's middle 20 ms, centred at 320 + 320 k samples, holds its voice
    voice = np.concatenate([np.zeros(160), np.repeat(np.where(vocal, 1.0, 0.01), 320)]) * rng.standard_normal(160 + 400 * 320)
    scan = fa.alignment_scan([voice], labels, range(0, 641, 80))
    assert ff.best_offset(scan) == 320


def test_a_remix_sets_the_voice_to_accompaniment_ratio_and_keeps_the_mixture_their_mean(mir1k_root):
    sources = load_sources(get_clip("Ani_1_01", mir1k_root))
    for snr in fa.SNR_LEVELS:
        mixed = fa.remix(sources, snr)
        assert 10 * np.log10(np.sum(mixed.voice ** 2) / np.sum(mixed.accompaniment ** 2)) == pytest.approx(snr, abs=1e-3)
        np.testing.assert_allclose(mixed.mixture, (mixed.accompaniment + mixed.voice) / 2, atol=1e-6)


def test_frame_errors_ignore_scale_and_the_ideal_mask_beats_a_constant_split(mir1k_root):
    from shsep.spectrogram import PARK

    clip = get_clip("Ani_1_01", mir1k_root)
    sources, labels = load_sources(clip), fa.read_labels(clip)
    exact = fa.frame_table(sources, sources.accompaniment * 0.5, sources.voice * 0.5, labels)  # any scale
    assert exact["voice_err"].sum() < 1e-6 * exact["voice_ref"].sum()
    half = fa.frame_table(sources, sources.mixture, sources.mixture, labels)  # no separation at all
    ideal = fa.frame_table(sources, *fa.ideal_ratio_mask_estimates(sources, PARK), labels)
    assert ideal["voice_err"].sum() < 0.2 * half["voice_err"].sum()


def test_findings_pool_the_frames_and_say_what_they_show():
    frames = pd.DataFrame({
        "singer": ["a"] * 120 + ["b"] * 80, "vocal": [True] * 100 + [False] * 20 + [True] * 60 + [False] * 20,
        "pitch": [50.0] * 60 + [62.0] * 40 + [0.0] * 20 + [55.0] * 60 + [0.0] * 20,
        "voice_ref": 1.0, "voice_est": [1.0] * 100 + [0.01] * 20 + [1.0] * 60 + [0.1] * 20,
        "voice_err": [0.1] * 60 + [0.01] * 40 + [0.01] * 20 + [0.1] * 60 + [0.1] * 20,
        "accompaniment_ref": 1.0, "accompaniment_est": 1.0, "accompaniment_err": 0.1,
        "ideal_voice_est": 1.0, "ideal_accompaniment_est": 1.0, "ideal_voice_err": 0.01, "ideal_accompaniment_err": 0.01})
    leak = ff.silence_leakage(frames)
    assert leak["silent_frame_share"] == pytest.approx(0.2)
    assert leak["voice_leak_db"] == pytest.approx(10 * np.log10(2.2 / 42.2), abs=1e-6)
    assert "20 % of the frames" in ff.leakage_sentence(leak)
    table = ff.snr_by_pitch(frames, least_frames=10)
    pooled = table[table["singer"] == "all singers"].set_index("pitch_bin")
    assert pooled.loc[48, "model_snr_db"] == pytest.approx(10.0) and pooled.loc[60, "model_snr_db"] == pytest.approx(20.0)
    assert "best at 60–64 (20.0 dB)" in ff.pitch_sentence(table)



def test_snr_and_worst_clip_sentences_follow_the_numbers():
    rows = {level: pd.DataFrame({"samples": [100], "voice_nsdr": [v], "accompaniment_nsdr": [a], "voice_sir": [0.0],
                                 "voice_sar": [0.0], "accompaniment_sir": [0.0], "accompaniment_sar": [0.0]})
            for level, v, a in ((-5.0, 12.0, 7.0), (0.0, 11.0, 11.0), (5.0, 10.0, 14.0))}
    sentence = ff.snr_sentence(ff.snr_table(rows))
    assert "12.00 → 11.00 → 10.00" in sentence and "the voice gains most at -5 dB (where it is the quieter" in sentence
    per_clip = pd.DataFrame({"clip": list("abcdef"), "singer": ["x", "x", "y", "y", "y", "y"],
                             "voice_nsdr": [1.0, 2.0, 9.0, 10.0, 11.0, 12.0], "accompaniment_nsdr": 5.0,
                             "vocal_share": 0.5, "median_pitch": [50, 52, 60, 60, 60, 60],
                             "pitch_range": 10.0, "accompaniment_over_voice_db": [3.0, 3.0, -2.0, -2.0, -2.0, -2.0]})
    worst = ff.worst_clips(per_clip, 2)
    assert list(worst["clip"]) == ["a", "b"]
    assert "come from x (2)" in ff.worst_sentence(per_clip, worst) and "(dB) 3.0 against -2.0" in ff.worst_sentence(per_clip, worst)


def test_the_recording_is_named_the_0_db_point_only_when_it_is():
    table = pd.DataFrame({"snr_db": [-5.0, 0.0, 5.0], "voice_gnsdr": [12.0, 11.0, 10.0],
                          "accompaniment_gnsdr": [7.0, 11.0, 14.0]})
    same = {"voice_gnsdr": 11.0, "accompaniment_gnsdr": 11.004, "clips_scored": 3}
    assert "equal energy" in ff.as_recorded_sentence(table, same)
    other = same | {"voice_gnsdr": 10.5}
    assert "equal energy" not in ff.as_recorded_sentence(table, other) and "10.50 / 11.00" in ff.as_recorded_sentence(table, other)
