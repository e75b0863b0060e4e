import numpy as np
import pytest

from shsep.samplers import WindowSampler, extract_patch, num_valid_starts


def test_valid_start_range_on_the_real_training_clips(train_set):
    report = [num_valid_starts(f, 64, "report") for f in train_set.frame_counts]
    park = [num_valid_starts(f, 64, "park") for f in train_set.frame_counts]
    assert (min(train_set.frame_counts), max(train_set.frame_counts)) == (97, 375)
    assert (min(report), max(report)) == (33, 311)  # the report's figures: range(frames - 64)
    assert (min(park), max(park)) == (34, 312)      # Park's inclusive randint(0, frames - 64)


def test_clip_then_start_visits_every_clip_once_per_epoch():
    sampler = WindowSampler([100, 200, 300, 70], policy="clip-then-start", seed=3)
    draws = sampler.draws(0, 8)
    assert sorted(c for c, _ in draws[:4]) == [0, 1, 2, 3]
    assert sorted(c for c, _ in draws[4:]) == [0, 1, 2, 3]
    assert all(0 <= s < sampler.starts[c] for c, s in draws)


def test_uniform_sampler_draws_windows_in_proportion():
    sampler = WindowSampler([64 + 9, 64 + 29], policy="uniform", seed=0)  # 10 and 30 starts
    clips = np.array([sampler.draw(i)[0] for i in range(4000)])
    assert abs(clips.mean() - 0.75) < 0.03
    assert np.isclose(sum(p.sum() for p in sampler.window_probabilities()), 1.0)


def test_draws_are_a_function_of_seed_and_index():
    a = WindowSampler([100, 300], policy="uniform", seed=1)
    b = WindowSampler([100, 300], policy="uniform", seed=1)
    assert a.draws(50, 10) == b.draws(50, 10)
    assert a.draws(0, 10) != WindowSampler([100, 300], policy="uniform", seed=2).draws(0, 10)


def test_short_clips_are_padded_symmetrically():
    patch = extract_patch(np.ones((4, 60)), 0, 64)
    assert patch.shape == (4, 64)
    assert patch[:, :2].sum() == 0 and patch[:, -2:].sum() == 0 and patch[:, 2:62].all()


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="sampler must be one of"):
        WindowSampler([100], policy="random")
