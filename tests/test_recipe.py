"""The 2-hour CPU recipe's parts: validation songs, remixed batches, cosine schedule, weight averaging,
precision choice, the best-checkpoint bookkeeping and the experiment log's recipe rows."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from shsep.data import DataError, index_clips, split_validation
from shsep.dataset import (SpectrogramSet, StemSpectrograms, TrainingBatches, apply_reverb, move_formants,
                           random_compressor, random_equaliser, random_reverb, reverb_history, shift_by_resampling,
                           spectral_log_envelope)
from shsep.models import ModelConfig, build_model
from shsep.profiles import PROFILES, VALIDATION_SONGS, TrainConfig, get_profile
from shsep.spectrogram import PARK
from shsep.train import WeightAverage, learning_rate_at, pick_precision, read_validation_log, train


def test_validation_songs_are_whole_training_songs(mir1k_root):
    clips = index_clips(mir1k_root, "train")
    training, validation = split_validation(clips, VALIDATION_SONGS)
    assert len(training) + len(validation) == len(clips) == 175
    assert len(validation) == 15
    held_out = {(c.singer, c.song) for c in validation}
    assert held_out == {("abjones", 5), ("amy", 14)}
    assert not any((c.singer, c.song) in held_out for c in training)  # no song on both sides
    with pytest.raises(DataError, match="amy_99"):
        split_validation(clips, ("amy_99",))


def test_a_whole_singer_can_be_held_out(mir1k_root):
    clips = index_clips(mir1k_root, "train")
    training, validation = split_validation(clips, ("abjones",))
    assert {c.singer for c in validation} == {"abjones"} and {c.singer for c in training} == {"amy"}
    assert len(validation) == 43 and len(training) == 132
    with pytest.raises(DataError, match="annar"):
        split_validation(clips, ("annar",))  # a test singer is not among the training clips


def test_the_cpu_recipe_is_a_refit_on_every_clip_and_survives_a_json_round_trip():
    """The shipped recipe trains on all training clips; the search held VALIDATION_SONGS out (`--hold-out`)."""
    config = PROFILES["cpu"]
    assert config.validation_songs == () and config.remix > 0 and config.precision == "auto"
    assert TrainConfig.from_dict(config.to_dict()) == config
    held_out = get_profile("cpu", validation_songs=VALIDATION_SONGS)
    assert TrainConfig.from_dict(held_out.to_dict()) == held_out  # tuples survive config.json


def test_the_songs_profile_is_the_cpu_recipe_without_the_dense_layers():
    cpu, songs = PROFILES["cpu"], PROFILES["songs"]
    assert cpu.model.dense_frequency_bins == cpu.front_end.num_bins and songs.model.dense_frequency_bins == 0
    assert cpu.budget_model.dense_frequency_bins == cpu.front_end.num_bins  # validated at that budget too
    assert songs.budget_model.dense_frequency_bins == 0
    assert replace(songs, model=cpu.model, budget_model=cpu.budget_model) == cpu


@pytest.fixture(scope="module")
def few_clips(mir1k_root):
    return index_clips(mir1k_root, "train")[:3]


def test_stems_add_up_to_park_magnitudes(few_clips):
    """Unremixed windows from the complex stems equal Park's normalised magnitudes."""
    stems = StemSpectrograms(few_clips, use_cache=False, progress=False)
    park = SpectrogramSet(few_clips, use_cache=False, progress=False)
    for clip, (complex_stems, magnitudes) in enumerate(zip(stems.stems, park.magnitudes)):
        mixture = np.abs(complex_stems.sum(axis=0) / 2)
        np.testing.assert_allclose(mixture, magnitudes[0], atol=1e-4)
        np.testing.assert_allclose(np.abs(complex_stems), magnitudes[1:], atol=1e-4)


def test_remixed_batches(few_clips):
    batches = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, progress=False)
    mixture, accompaniment, voice = batches.batch(0, 8)
    assert mixture.shape == (8, 1, 512, 64) and accompaniment.shape == voice.shape == (8, 512, 64)
    assert float(mixture.max()) <= 1.0 + 1e-6
    # deterministic in the draw index (a resumed run sees the same data), different across draws
    again = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, progress=False).batch(4, 4)
    torch.testing.assert_close(again[0], mixture[4:])
    assert not torch.equal(mixture[0], mixture[1])
    # a remix is a mixture of the two targets: |a + v| / 2 never exceeds (|a| + |v|) / 2
    assert bool(torch.all(mixture[:, 0] <= (accompaniment + voice) / 2 + 1e-5))
    # without remixing, batches are Park's windows exactly
    plain = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=0.0, progress=False)
    park = SpectrogramSet(few_clips, progress=False)
    expected = park.batch(park.sampler("uniform", 3).draws(0, 4))
    for a, b in zip(plain.batch(0, 4), expected):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="probability"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.5, progress=False)


def test_shifting_by_resampling_moves_pitch_and_duration_together():
    rate = 8000
    tone = np.sin(2 * np.pi * 300 * np.arange(rate) / rate).astype(np.float32)
    for semitones in (12, -4, 2):
        shifted = shift_by_resampling(tone, semitones)
        factor = 2 ** (semitones / 12)
        assert len(shifted) == pytest.approx(rate / factor, rel=0.01)
        peak = np.argmax(np.abs(np.fft.rfft(shifted))) * rate / len(shifted)
        assert peak == pytest.approx(300 * factor, rel=0.01)


def _sung_vowel(rate: int = 8000, pitch: float = 150.0) -> np.ndarray:
    """A buzz at `pitch` through two resonances (formants) at 800 and 2200 Hz: a vowel's source-filter model."""
    from scipy.signal import lfilter, sawtooth

    buzz = sawtooth(2 * np.pi * pitch * np.arange(4 * rate) / rate)
    vowel = np.zeros_like(buzz)
    for centre, bandwidth, level in ((800, 150, 1.0), (2200, 200, 0.5)):
        radius, angle = np.exp(-np.pi * bandwidth / rate), 2 * np.pi * centre / rate
        vowel += level * lfilter([1 - radius], [1, -2 * radius * np.cos(angle), radius ** 2], buzz)
    return vowel.astype(np.float32)


def _first_formant(spectrogram: np.ndarray) -> float:
    """Hz of the largest peak of the frames' mean spectral envelope between 500 and 1400 Hz."""
    magnitudes = np.abs(spectrogram).mean(axis=1, keepdims=True)
    envelope = spectral_log_envelope(magnitudes, 1e-6)[:, 0]
    hertz = np.arange(len(envelope)) * PARK.sample_rate / PARK.n_fft
    band = (hertz > 500) & (hertz < 1400)
    return float(hertz[band][np.argmax(envelope[band])])


def test_moving_the_formants_back_keeps_a_shifted_voices_vowel_and_its_pitch():
    vowel = _sung_vowel()
    original = _first_formant(PARK.analyse(vowel))
    assert original == pytest.approx(800, abs=60)
    for semitones in (4, -4):
        ratio = 2 ** (semitones / 12)
        shifted = PARK.analyse(shift_by_resampling(vowel, semitones))
        kept = move_formants(shifted, ratio)
        assert _first_formant(shifted) == pytest.approx(original * ratio, rel=0.08)  # resampling moves them
        assert _first_formant(kept) == pytest.approx(original, abs=60)  # moved back
        # the harmonics stay where the shift put them: the strongest bin below 400 Hz is the shifted pitch's
        low = np.abs(kept).mean(axis=1)[:51]
        assert np.argmax(low) * PARK.sample_rate / PARK.n_fft == pytest.approx(150 * ratio, abs=10)
        np.testing.assert_allclose(np.angle(kept[np.abs(shifted) > 1e-3]),
                                   np.angle(shifted[np.abs(shifted) > 1e-3]), atol=1e-4)  # phase kept
    np.testing.assert_allclose(move_formants(shifted, 1.0), shifted, rtol=1e-5)
    silence = np.zeros((PARK.num_bins, 8), np.complex64)
    assert np.all(move_formants(silence, 1.2) == 0)


def test_shifted_voices_can_keep_their_formants(few_clips):
    moved = StemSpectrograms(few_clips[:1], use_cache=False, progress=False, voice_shifts=(4.0,))
    kept = StemSpectrograms(few_clips[:1], use_cache=False, progress=False, voice_shifts=(4.0,), voice_formants=0.0)
    np.testing.assert_allclose(kept.shifted_voices[4.0][0], move_formants(moved.shifted_voices[4.0][0], 2 ** (4 / 12)),
                               rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="voice_shift > 0"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, voice_formants=0.0, progress=False)
    with pytest.raises(ValueError, match="0 to 1"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, voice_shift=0.5, voice_shifts=(2.0,),
                        voice_formants=1.5, progress=False)


def test_the_random_equaliser_is_smooth_bounded_and_seeded():
    gains = [random_equaliser(np.random.default_rng(s), PARK, 6.0) for s in range(50)]
    decibels = 20 * np.log10(np.stack(gains))
    assert decibels.shape == (50, PARK.num_bins)
    assert np.abs(decibels).max() <= 9.0 + 1e-4  # tilt ±3 dB at the ends, peak ±6 dB
    assert np.abs(np.diff(decibels, axis=1)).max() < 1.0  # smooth: no step between neighbouring bins
    assert decibels.std(axis=0).min() > 0.5  # every bin moves across draws
    np.testing.assert_array_equal(gains[3], random_equaliser(np.random.default_rng(3), PARK, 6.0))


def test_remixes_with_shifted_voices_and_random_eq(few_clips):
    batches = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, voice_shift=1.0,
                              voice_shifts=(-2.0, 2.0), equaliser_db=6.0, progress=False)
    mixture, accompaniment, voice = batches.batch(0, 6)
    assert mixture.shape == (6, 1, 512, 64) and float(mixture.max()) <= 1.0 + 1e-6
    assert bool(torch.all(mixture[:, 0] <= (accompaniment + voice) / 2 + 1e-5))
    again = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, voice_shift=1.0,
                            voice_shifts=(-2.0, 2.0), equaliser_db=6.0, progress=False).batch(2, 4)
    torch.testing.assert_close(again[2], voice[2:])  # deterministic in the draw index
    plain = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, progress=False).batch(0, 6)
    assert not torch.allclose(plain[2], voice)  # the voices are not the unshifted ones
    # a shifted voice window lies at the same place in the song, in the shifted copy's frames
    shifted = batches.data.shifted_voices[2.0][0]
    assert shifted.shape[-1] < batches.data.stems[0].shape[-1]
    with pytest.raises(ValueError, match="remix > 0"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=0.0, equaliser_db=6.0, progress=False)
    with pytest.raises(ValueError, match="voice_shift"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, voice_shift=2.0, progress=False)


def test_remixes_with_shifted_accompaniments(few_clips):
    batches = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, accompaniment_shift=1.0,
                              accompaniment_shifts=(-2.0, 2.0), progress=False)
    mixture, accompaniment, voice = batches.batch(0, 6)
    assert mixture.shape == (6, 1, 512, 64) and float(mixture.max()) <= 1.0 + 1e-6
    again = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, accompaniment_shift=1.0,
                            accompaniment_shifts=(-2.0, 2.0), progress=False).batch(2, 4)
    torch.testing.assert_close(again[1], accompaniment[2:])  # deterministic in the draw index
    plain = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, progress=False).batch(0, 6)
    torch.testing.assert_close(plain[2], voice)  # the voices are drawn as before the lever
    assert not torch.allclose(plain[1], accompaniment)  # the accompaniments are not the unshifted ones
    lower = batches.data.shifted_accompaniments[-2.0][0]  # a lower, longer copy of the same song
    assert lower.shape[-1] > batches.data.stems[0].shape[-1]
    with pytest.raises(ValueError, match="need remix > 0"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, accompaniment_shift=0.5, accompaniment_shifts=(2.0,),
                        progress=False)
    with pytest.raises(ValueError, match="accompaniment_shifts"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, accompaniment_shift=0.5, progress=False)


def test_remixes_with_layered_accompaniments(few_clips):
    """Every remix's accompaniment gets a second clip's, at its own gain: more accompaniment against the same
    voices, drawn after every older lever (the voices are the ones drawn without the lever)."""
    plain = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, progress=False)
    layered = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, accompaniment_layers=1.0,
                              progress=False)
    mixture, accompaniment, voice = layered.batch(0, 8)
    plain_mixture, plain_accompaniment, plain_voice = plain.batch(0, 8)
    assert float(mixture.max()) <= 1.0 + 1e-6
    # each patch's voice share falls
    voice_share = lambda acc, voc: (voc ** 2).sum(dim=(1, 2)) / ((acc ** 2).sum(dim=(1, 2)) + (voc ** 2).sum(dim=(1, 2)))
    assert (voice_share(accompaniment, voice) < voice_share(plain_accompaniment, plain_voice) + 1e-6).all()
    assert float(voice_share(accompaniment, voice).mean()) < 0.8 * float(voice_share(plain_accompaniment,
                                                                                      plain_voice).mean())
    for layered_voice, plain_voice_element in zip(voice, plain_voice):  # the same voice, scaled as a whole
        ratio = (layered_voice / plain_voice_element.clamp_min(1e-12))[plain_voice_element > 1e-4]
        assert float(ratio.max() - ratio.min()) < 1e-3 * float(ratio.max())
    torch.testing.assert_close(layered.batch(3, 2)[1], accompaniment[3:5])  # deterministic in the draw index
    with pytest.raises(ValueError, match="need remix > 0"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, accompaniment_layers=0.5, progress=False)
    with pytest.raises(ValueError, match="accompaniment_layers is a probability"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, accompaniment_layers=1.5, progress=False)


def test_a_random_room_is_a_direct_sound_and_a_decaying_tail_at_its_stated_ratio():
    history = reverb_history(PARK)
    assert history == 79  # 2.5 s of 32 ms frames
    rooms = [random_reverb(np.random.default_rng(s), PARK) for s in range(40)]
    for room in rooms:
        assert room.shape == (PARK.num_bins, history + 1) and np.all(room[:, 0] == 1)
        tail_energy = np.mean(np.sum(np.abs(room[:, 1:]) ** 2, axis=1))
        assert 10 ** (-12.5 / 10) < tail_energy < 10 ** (0.5 / 10)  # direct-to-reverberant 0-12 dB
        early, late = np.abs(room[:, 1:6]) ** 2, np.abs(room[:, 40:45]) ** 2
        assert early.mean() > late.mean()  # it decays
        assert np.abs(room[-50:, 20:]).mean() < np.abs(room[:50, 20:]).mean()  # highs die first
    np.testing.assert_array_equal(rooms[3], random_reverb(np.random.default_rng(3), PARK))


def test_reverb_filters_each_bin_over_the_frames_before_it():
    rng = np.random.default_rng(0)
    history, frames = 5, 12
    signal = (rng.standard_normal((3, history + frames)) + 1j * rng.standard_normal((3, history + frames)))
    room = (rng.standard_normal((3, history + 1)) + 1j * rng.standard_normal((3, history + 1)))
    expected = np.stack([np.convolve(signal[b], room[b])[history: history + frames] for b in range(3)])
    np.testing.assert_allclose(apply_reverb(signal, room, history), expected, rtol=1e-4, atol=1e-4)
    dry = np.zeros((3, history + 1), complex)
    dry[:, 0] = 1
    np.testing.assert_allclose(apply_reverb(signal, dry, history), signal[:, history:], atol=1e-5)


def test_a_random_room_rings_on_in_the_resynthesised_audio_for_its_reverberation_time():
    """The STFT-domain room, resynthesised, is a room: after a noise burst stops, the sound decays at the drawn
    reverberation time (between the top bin's half of it and the low bins' full value, for white noise)."""
    from shsep.dataset import REVERB_SECONDS

    rate, history = PARK.sample_rate, reverb_history(PARK)
    burst = np.zeros(6 * rate, np.float32)
    burst[rate: rate + rate // 5] = np.random.default_rng(1).standard_normal(rate // 5)
    spectrum = PARK.analyse(burst)
    for seed in range(3):
        low_t60 = np.random.default_rng(seed).uniform(*REVERB_SECONDS)  # the room's first draw
        room = random_reverb(np.random.default_rng(seed), PARK)
        padded = np.concatenate([np.zeros((PARK.num_bins, history), spectrum.dtype), spectrum], axis=1)
        audio = PARK.synthesise(apply_reverb(padded, room, history), length=len(burst))
        tail = audio[rate + rate // 5:] ** 2
        decay_db = 10 * np.log10(np.cumsum(tail[::-1])[::-1] / tail.sum() + 1e-20)  # Schroeder's integral
        fit = (decay_db < -5) & (decay_db > -25)
        slope = np.polyfit(np.arange(len(tail))[fit] / rate, decay_db[fit], 1)[0]
        assert 0.5 * low_t60 < -60 / slope < low_t60


def test_a_random_compressor_flattens_loud_frames_and_leaves_quiet_ones():
    rng = np.random.default_rng(0)
    levels_db = np.array([-40.0] * 10 + [0.0] * 10 + [-40.0] * 20)  # a loud note between quiet passages
    frames = (10 ** (levels_db / 20))[None, :] * (1 + 0.1 * rng.standard_normal((512, 40)))
    for seed in range(10):
        gains = random_compressor(np.random.default_rng(seed), frames, PARK)
        assert gains.shape == (40,) and np.all(gains <= 1 + 1e-6)
        assert np.all(gains[:10] == 1)  # quiet frames before the note: untouched
        assert gains[10:20].max() < 10 ** (-6 * (1 - 1 / 2) / 20)  # the note: reduced by at least 3 dB
        assert gains[20] < gains[25] < gains[39] <= 1  # after it, the gain recovers gradually
    np.testing.assert_array_equal(random_compressor(np.random.default_rng(4), frames, PARK),
                                  random_compressor(np.random.default_rng(4), frames, PARK))


def test_windows_with_history_read_the_frames_before_them(few_clips):
    stems = StemSpectrograms(few_clips, PARK, progress=False)
    plain = stems.window(0, 10, source=1)
    with_history = stems.window(0, 10, source=1, history=30)
    assert with_history.shape == (PARK.num_bins, 94)
    np.testing.assert_array_equal(with_history[:, 30:], plain)
    np.testing.assert_array_equal(with_history[:, 20:30], stems.stems[0][1][:, :10])
    assert not with_history[:, :20].any()  # before the clip's first frame: silence


def test_remixes_with_reverberant_voices(few_clips):
    reverberant = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, reverb=1.0, progress=False)
    mixture, accompaniment, voice = reverberant.batch(0, 6)
    assert mixture.shape == (6, 1, 512, 64) and float(mixture.max()) <= 1.0 + 1e-6
    assert bool(torch.all(mixture[:, 0] <= (accompaniment + voice) / 2 + 1e-5))
    dry = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, progress=False).batch(0, 6)
    assert not torch.allclose(dry[2], voice)
    torch.testing.assert_close(TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, reverb=1.0,
                                               progress=False).batch(2, 4)[2], voice[2:])
    # the tail fills the gaps between notes: fewer near-silent voice cells than the dry voice has
    assert (voice < 1e-3).float().mean() < (dry[2] < 1e-3).float().mean()
    compressed = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, reverb=1.0, compression=1.0,
                                 progress=False).batch(0, 6)[2]
    assert not torch.allclose(compressed, voice)
    with pytest.raises(ValueError, match="remix > 0"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=0.0, reverb=0.5, progress=False)
    with pytest.raises(ValueError, match="compression"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=1.0, compression=1.5, progress=False)


def test_cosine_schedule_warms_up_then_decays_to_zero():
    config = replace(PROFILES["cpu"], steps=1000, warmup_steps=100, learning_rate=1e-3)
    assert learning_rate_at(0, config) == pytest.approx(1e-5)
    assert learning_rate_at(99, config) == pytest.approx(1e-3)
    assert learning_rate_at(550, config) == pytest.approx(5e-4)
    assert learning_rate_at(999, config) < 1e-6
    rates = [learning_rate_at(s, config) for s in range(100, 1000)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    with pytest.raises(ValueError, match="schedule"):
        learning_rate_at(0, replace(config, schedule="linear"))


def test_weight_average_follows_the_weights():
    model = build_model(ModelConfig("park", channels=4, stacks=1, depth=1))
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    average.update(model)  # first update: decay min(0.5, 1/10) = 0.1
    for p, a, in zip(model.parameters(), average.model.parameters()):
        torch.testing.assert_close(a, p - 0.1)


def test_precision_choice_leaves_the_model_untouched():
    model = build_model(ModelConfig("park", channels=4, stacks=1, depth=1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 1, 512, 64)
    assert pick_precision(model, x, "fp32", torch.device("cpu")) == "fp32"
    assert pick_precision(model, x, "auto", torch.device("cpu")) in ("fp32", "bf16")
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    with pytest.raises(ValueError, match="precision"):
        pick_precision(model, x, "fp8", torch.device("cpu"))
    with pytest.raises(ValueError, match="training precision"):  # int8 is for separation (the ONNX export) alone
        pick_precision(model, x, "int8", torch.device("cpu"))


def test_precision_choice_is_not_decided_by_one_slow_pass():
    """A pass slowed by other work on the machine (here: the first timed bf16 pass) must not flip the choice."""
    import time as time_module

    class Timed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(1))
            self.bf16_passes = 0

        def forward(self, x):
            if torch.is_autocast_enabled("cpu"):
                self.bf16_passes += 1
                time_module.sleep(0.4 if self.bf16_passes == 4 else 0.01)  # a timed pass is disturbed
            else:
                time_module.sleep(0.05)
            return [x * self.weight]

    assert pick_precision(Timed(), torch.ones(2), "auto", torch.device("cpu")) == "bf16"


def test_validation_keeps_the_best_checkpoint_and_the_run_is_logged(mir1k_root, tmp_path, monkeypatch, capsys):
    from shsep.experiments import RECIPE_BUDGET, log_training_run
    from shsep.experiment_log import read_experiment_log

    config = get_profile("smoke", steps=6, checkpoint_every=3, remix=0.5, validation_songs=("abjones_1",),
                         ema_decay=0.9, schedule="cosine", warmup_steps=2)
    train(config, tmp_path / "run", mir1k_root, progress=False)
    validation = read_validation_log(tmp_path / "run")
    assert list(validation["step"]) == [3, 6] and set(validation["clips"]) == {4}
    assert (tmp_path / "run" / "best.pt").is_file()
    row = log_training_run(tmp_path / "run", "profile smoke, steps 6", test=False, data_root=mir1k_root,
                           log_path=tmp_path / "experiments.csv")
    assert row["budget"] == RECIPE_BUDGET and row["arm"] == "run" and row["validation_clips"] == 4
    assert row["change"] == "profile smoke, steps 6"
    assert row["best_step"] in (3, 6) and row["steps"] == 6
    assert "cores" in row["device"] and row["precision"] in ("fp32", "bf16")
    logged = read_experiment_log(tmp_path / "experiments.csv")
    assert len(logged) == 1 and logged["validation_voice_gnsdr"].notna().all()
    assert row["torch"] == torch.__version__  # recorded by the training process, from the run's run.json

    # its test score: the best validation step, which it names before scoring
    import shsep.evaluate

    class Scored(Exception):
        pass

    def scoring(checkpoint, *args, **kwargs):
        raise Scored(checkpoint)

    monkeypatch.setattr(shsep.evaluate, "evaluate", scoring)
    capsys.readouterr()
    with pytest.raises(Scored) as scored:
        log_training_run(tmp_path / "run", "profile smoke, steps 6", log_path=tmp_path / "scored.csv")
    best = tmp_path / "run" / "best.pt"
    assert scored.value.args[0] == best
    assert f"test: scoring {best}, the step with the best validation figure" in capsys.readouterr().out

    # a GPU sweep's candidate: its own budget and arm name, beside the recipe row, with counts kept as integers
    from shsep.arms import SWEEP_BUDGET

    log_training_run(tmp_path / "run", "profile smoke, seed 0", test=False, log_path=tmp_path / "experiments.csv",
                     budget=SWEEP_BUDGET, arm="gpu-run")
    logged = read_experiment_log(tmp_path / "experiments.csv")
    assert sorted(zip(logged["budget"], logged["arm"])) == [(SWEEP_BUDGET, "gpu-run"), (RECIPE_BUDGET, "run")]
    import csv

    with open(tmp_path / "experiments.csv") as f:
        assert {r["validation_clips"] for r in csv.DictReader(f)} == {"4"}  # not 4.0000


def test_training_compute_counts_windows_times_three_forward_passes():
    import pandas as pd

    from shsep.models import ModelConfig, flops_per_patch
    from shsep.profiles import get_profile
    from shsep.recipe_search import training_gflop

    cpu = get_profile("songs")  # the cpu network without the dense layers, as the rows below describe it
    ours = pd.DataFrame([{"architecture": "park", "channels": cpu.model.channels, "growth": cpu.model.growth,
                          "stacks": cpu.model.stacks, "depth": cpu.model.depth, "target": cpu.target,
                          "head": "default", "batch_size": cpu.batch_size, "steps": steps} for steps in (4300, 12500)])
    gflop = training_gflop(ours)
    assert gflop[1] == pytest.approx(3 * flops_per_patch(cpu.model) * cpu.batch_size * 12500 / 1e9)
    assert gflop[0] / gflop[1] == pytest.approx(4300 / 12500)
    half_short = training_gflop(ours.assign(short_patches=[float("nan"), 0.5]))  # a row from before: whole windows
    assert half_short[0] == pytest.approx(gflop[0]) and half_short[1] == pytest.approx(0.75 * gflop[1])
    dense = training_gflop(ours.assign(dense_frequency_bins=[float("nan"), 512]))  # dense layers across frequency
    dense_model = ModelConfig(**{**cpu.model.to_dict(), "dense_frequency_bins": 512})
    assert dense[0] == pytest.approx(gflop[0])
    assert dense[1] == pytest.approx(3 * flops_per_patch(dense_model) * cpu.batch_size * 12500 / 1e9)
    assert dense[1] > gflop[1]
    full = training_gflop(ours.assign(dense_frequency_bins=[512, 512], dense_full_resolution=[float("nan"), True]))
    full_model = ModelConfig(**{**dense_model.to_dict(), "dense_full_resolution": True})
    assert full[0] == pytest.approx(dense[1] * 4300 / 12500)  # blank before the option: pooled levels only
    assert full[1] == pytest.approx(3 * flops_per_patch(full_model) * cpu.batch_size * 12500 / 1e9)
    assert full[1] > dense[1]
    report = pd.DataFrame([{"channels": 64, "growth": 64, "stacks": 4, "outputs": 2, "iterations": 15000}])
    expected = 3 * flops_per_patch(ModelConfig("report", channels=64, growth=64, stacks=4, depth=4)) * 4 * 15000 / 1e9
    assert training_gflop(report, report_runs=True)[0] == pytest.approx(expected)


def test_a_16_khz_front_end_keeps_the_stft_sizes():
    config = get_profile("cpu", sample_rate=16000)
    assert config.front_end.sample_rate == 16000 and config.front_end.n_fft == PARK.n_fft
    assert config.front_end.num_bins == PARK.num_bins and config.model == PROFILES["cpu"].model
    assert TrainConfig.from_dict(config.to_dict()) == config
