import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from shsep.checkpoints import CheckpointError, load_model, read_checkpoint
from shsep.profiles import PROFILES, get_profile
from shsep.train import learning_rate_at, read_training_log, train


def test_profiles_are_consistent():
    from shsep.targets import num_outputs

    for name, config in PROFILES.items():
        assert config.model.outputs == num_outputs(config.target), name
        assert config.schedule == "cosine" or config.decay_step <= config.steps, name
    paper = PROFILES["paper"]
    assert (paper.steps, paper.batch_size, paper.learning_rate, paper.decay_step, paper.decay_factor) == (15000, 4, 1e-4, 12000, 0.2)
    assert get_profile("smoke", target="voice").model.outputs == 1


def test_staircase_decay():
    config = PROFILES["paper"]
    assert learning_rate_at(11999, config) == 1e-4
    assert learning_rate_at(12000, config) == pytest.approx(2e-5)


def test_resume_gives_the_same_result_as_an_uninterrupted_run(mir1k_root, tmp_path):
    config = replace(get_profile("smoke"), steps=6, checkpoint_every=2)
    train(config, tmp_path / "whole", mir1k_root, progress=False)
    train(config, tmp_path / "split", mir1k_root, progress=False, stop_after=3)  # "killed" after step 3
    assert read_checkpoint(tmp_path / "split" / "checkpoint.pt")["step"] == 3
    train(config, tmp_path / "split", mir1k_root, resume=True, progress=False)
    whole = read_checkpoint(tmp_path / "whole" / "checkpoint.pt")
    split = read_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert split["step"] == 6
    for key, value in whole["model"].items():
        torch.testing.assert_close(split["model"][key], value, rtol=0, atol=0, msg=key)
    log = read_training_log(tmp_path / "split")
    assert list(log["step"]) == [1, 2, 3, 4, 5, 6]
    assert set(log.columns) >= {"loss", "loss_stack1", "loss_stack2"}
    # resuming a finished run (as `shsep train --resume --test` does) trains nothing and rewrites nothing
    written = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "split").iterdir()}
    train(config, tmp_path / "split", mir1k_root, resume=True, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "split").iterdir()} == written


def test_resume_refuses_another_configuration(mir1k_root, tmp_path):
    config = replace(get_profile("smoke"), steps=2)
    train(config, tmp_path, mir1k_root, progress=False)
    with pytest.raises(ValueError, match="already holds a training run"):
        train(config, tmp_path, mir1k_root, progress=False)  # never overwrite a run without being asked
    with pytest.raises(ValueError, match="another configuration"):
        train(replace(config, seed=5), tmp_path, mir1k_root, resume=True, progress=False)


def test_short_patches_train_the_first_steps_on_half_windows(mir1k_root, tmp_path, monkeypatch):
    """--short-patches 0.5: the network sees 32-frame windows for the first half of the steps, then 64; the
    loop's batches stay whole (the windows are drawn as before), and a bad share is refused before training."""
    import shsep.train.loop as loop

    seen = []
    original = loop.training_step

    def recording(net, model, optimizer, average, batch, autocast, config):
        seen.append((batch[0].shape[-1], batch[1].shape[-1], batch[2].shape[-1]))
        return original(net, model, optimizer, average, batch, autocast, config)

    monkeypatch.setattr(loop, "training_step", recording)
    config = get_profile("smoke", steps=6, short_patches=0.5, checkpoint_every=6)
    train(config, tmp_path / "run", mir1k_root, progress=False)
    assert seen == [(32, 32, 32)] * 3 + [(64, 64, 64)] * 3
    assert read_training_log(tmp_path / "run")["loss"].notna().all()
    with pytest.raises(ValueError, match="share of the steps"):
        train(replace(config, short_patches=1.0), tmp_path / "bad", mir1k_root, progress=False)
    with pytest.raises(ValueError, match="do not pool 6 times"):
        train(get_profile("smoke", short_patches=0.5, depth=6), tmp_path / "deep", mir1k_root, progress=False)


def test_the_resolution_loss_joins_the_last_stacks_loss(mir1k_root, tmp_path, monkeypatch):
    """--resolution-loss W: the loop's batches carry the complex stems and the last stack's loss grows by W × the
    multi-resolution loss (the first stack's is Park's alone); bad settings are refused before training."""
    import shsep.train.loop as loop

    seen = []
    original = loop.training_step

    def recording(net, model, optimizer, average, batch, autocast, config):
        seen.append(len(batch))
        losses = original(net, model, optimizer, average, batch, autocast, config)
        seen.append([float(x.detach()) for x in losses])
        return losses

    monkeypatch.setattr(loop, "training_step", recording)
    base = get_profile("smoke", steps=2, checkpoint_every=2, remix=0.5, target="abs-ratio")
    train(base, tmp_path / "plain", mir1k_root, progress=False)
    train(replace(base, resolution_loss=1.0), tmp_path / "resolution", mir1k_root, progress=False)
    plain, resolution = seen[:4], seen[4:]
    assert plain[0] == 3 and resolution[0] == 4
    assert resolution[1][0] == pytest.approx(plain[1][0], rel=1e-5)  # the same first step, the first stack
    assert resolution[1][1] > plain[1][1] + 1e-4  # the last stack's loss carries the resynthesised one
    with pytest.raises(ValueError, match="needs remix > 0"):
        train(replace(base, remix=0.0, resolution_loss=1.0), tmp_path / "bad", mir1k_root, progress=False)
    with pytest.raises(ValueError, match="predicts one"):
        train(get_profile("smoke", remix=0.5, target="voice", resolution_loss=1.0), tmp_path / "one",
              mir1k_root, progress=False)


def test_the_earlier_stacks_weigh_early_stack_weight_in_the_training_loss():
    """--early-stack-weight W: the gradient is W x the earlier stacks' loss's plus the last stack's (0: the last
    stack's alone, 1: Park's sum); the losses returned for the log stay unweighted."""
    from contextlib import nullcontext

    from shsep.models import build_model
    from shsep.targets import stack_losses
    from shsep.train.step import training_step

    config = get_profile("smoke", target="abs-ratio")
    torch.manual_seed(0)
    model = build_model(config.model)
    mixture = torch.rand(2, 1, 512, 64)
    voice = mixture[:, 0] * torch.rand(2, 512, 64)
    batch = (mixture, mixture[:, 0] - voice, voice)

    def gradients_and_losses(weight):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # the weights stay; the gradients are kept
        losses = training_step(model, model, optimizer, None, batch, nullcontext(),
                               replace(config, early_stack_weight=weight))
        return {n: p.grad.clone() for n, p in model.named_parameters()}, [float(x.detach()) for x in losses]

    (park, park_losses), (half, half_losses), (last, last_losses) = map(gradients_and_losses, (1.0, 0.5, 0.0))
    assert park_losses == half_losses == last_losses and len(park_losses) == 2 and park_losses[0] != park_losses[1]
    model.zero_grad(set_to_none=True)
    stack_losses(model(mixture), mixture, *batch[1:], config.target)[-1].backward()
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(last[name], parameter.grad, msg=name)  # 0: the last stack's loss alone
        torch.testing.assert_close(half[name], (park[name] + last[name]) / 2, msg=name)  # linear in W
    assert any(not torch.equal(park[n], last[n]) for n in park if n.startswith("hourglasses.0."))
    with pytest.raises(ValueError, match="early_stack_weight is a loss weight"):
        train(get_profile("smoke", early_stack_weight=-1.0), Path("unused"), None, progress=False)


def test_a_warm_up_longer_than_the_run_is_refused_before_training():
    with pytest.raises(ValueError, match="warmup_steps must be at least 0 and fewer than the run's 20 steps"):
        train(get_profile("smoke", schedule="cosine", warmup_steps=20), Path("unused"), None, progress=False)


def test_an_empty_batch_is_refused_before_training():
    with pytest.raises(ValueError, match="batch_size is the training windows per step, at least 1, not 0"):
        train(get_profile("smoke", batch_size=0), Path("unused"), None, progress=False)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"model": {}, "config": PROFILES["smoke"].to_dict() | {"model": PROFILES["cpu"].model.to_dict()}},
               tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(tmp_path / "mismatch.pt")


def test_checkpoints_refuse_code_execution(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"model": {}, "config": {}, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="could run code"):
        read_checkpoint(tmp_path / "evil.pt")


def test_torchrun_two_cpu_processes(mir1k_root, tmp_path):
    # the cpu recipe's levers (remixing, validation songs, EMA, cosine, precision probe, screening of initial
    # weights) under torchrun
    script = (
        "from dataclasses import replace\n"
        "from shsep.profiles import get_profile\n"
        "from shsep.train import train\n"
        f"train(replace(get_profile('smoke'), steps=3, checkpoint_every=3, remix=0.5, validation_songs=('abjones_1',),"
        f" ema_decay=0.9, schedule='cosine', warmup_steps=1, precision='auto', init_trials=2, trial_steps=2),"
        f" r'{tmp_path}', r'{mir1k_root}',"
        " progress=False, device='cpu')\n"
    )
    (tmp_path / "run.py").write_text(script)
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                             "--master-port", "29517", str(tmp_path / "run.py")],
                            capture_output=True, text=True, timeout=300,
                            env=os.environ | {"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert read_checkpoint(tmp_path / "checkpoint.pt")["step"] == 3
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "validation.csv").is_file()
    assert (tmp_path / "trials.csv").is_file() and not list((tmp_path / "trials").glob("*/checkpoint.pt"))


def test_the_front_end_is_part_of_the_config_and_the_checkpoint(mir1k_root, tmp_path):
    """A 16 kHz model trains, records its front end, and separates with it; older checkpoints load as Park's."""
    import numpy as np

    from shsep.data import get_clip, load_sources
    from shsep.paths import SHIPPED_MODEL
    from shsep.separate import Separator
    from shsep.spectrogram import PARK, FrontEnd

    front_end = FrontEnd(sample_rate=16000)
    config = replace(get_profile("smoke"), steps=2, front_end=front_end)
    checkpoint = train(config, tmp_path / "run16k", mir1k_root, progress=False)
    assert read_checkpoint(checkpoint)["config"]["front_end"]["sample_rate"] == 16000
    separator = Separator.from_checkpoint(checkpoint, device="cpu")
    assert separator.front_end == front_end
    mixture = load_sources(get_clip("annar_1_01", mir1k_root)).mixture
    stems = separator.separate(mixture, 16000)
    assert stems.voice.shape == mixture.shape and np.isfinite(stems.voice).all()
    # a checkpoint from before the front end was recorded (the model shipped until the cpu recipe) loads as Park's
    from shsep.checkpoints import save_atomic

    old = read_checkpoint(SHIPPED_MODEL)
    del old["config"]["front_end"]
    save_atomic(old, tmp_path / "old.pt")
    assert Separator.from_checkpoint(tmp_path / "old.pt", device="cpu").front_end == PARK
    assert Separator.from_checkpoint(SHIPPED_MODEL, device="cpu").front_end == PARK


def test_init_trials_continue_the_trial_with_the_lowest_loss(mir1k_root, tmp_path):
    import json

    import pandas as pd

    from shsep.train import trial_loss

    config = replace(get_profile("smoke"), steps=8, checkpoint_every=2, init_trials=3, trial_steps=4)
    for bad in ({"init_trials": 0}, {"trial_steps": 0}, {"trial_steps": 9}):
        with pytest.raises(ValueError, match="init_trials must be at least 1|needs trial_steps between 1 and"):
            train(replace(config, **bad), tmp_path / "bad", mir1k_root, progress=False)
    # interrupted inside the screening, then resumed: every trial is picked up where it stopped
    assert train(config, tmp_path / "run", mir1k_root, progress=False, stop_after=2) == tmp_path / "run" / "trials"
    with pytest.raises(ValueError, match="already holds a training run"):
        train(config, tmp_path / "run", mir1k_root, progress=False)
    train(config, tmp_path / "run", mir1k_root, resume=True, progress=False)

    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert list(trials["init_seed"]) == [0, 1, 2] and trials["chosen"].sum() == 1
    for row in trials.itertuples():
        assert row.loss == pytest.approx(trial_loss(read_training_log(tmp_path / "run" / "trials" / f"init{row.init_seed}"), 4),
                                         rel=1e-5)
    chosen = int(trials.loc[trials["loss"].idxmin(), "init_seed"])
    assert trials.loc[trials["chosen"], "init_seed"].item() == chosen
    assert json.loads((tmp_path / "run" / "run.json").read_text())["initial_weights_seed"] == chosen
    assert not list((tmp_path / "run" / "trials").glob("*/checkpoint.pt"))  # the run's checkpoint holds the winner

    # the run is the chosen initial weights trained straight through (the trials see the same windows)
    plain = replace(config, init_trials=1, trial_steps=0, init_seed=chosen)
    train(plain, tmp_path / "plain", mir1k_root, progress=False)
    screened = read_checkpoint(tmp_path / "run" / "checkpoint.pt")
    straight = read_checkpoint(tmp_path / "plain" / "checkpoint.pt")
    assert screened["step"] == straight["step"] == 8
    for key, value in straight["model"].items():
        torch.testing.assert_close(screened["model"][key], value, rtol=0, atol=0, msg=key)
    log = read_training_log(tmp_path / "run")
    assert list(log["step"]) == list(range(1, 9))
    others = trials.loc[~trials["chosen"], "seconds"].sum()
    assert log["seconds"].iloc[0] > others and log["seconds"].is_monotonic_increasing  # the trials' time counts

    from shsep import plots
    from shsep.train import read_trial_logs, read_trials

    logs = read_trial_logs(tmp_path / "run")
    assert sorted(logs) == [0, 1, 2] and all(list(trial_log["step"]) == [1, 2, 3, 4] for trial_log in logs.values())
    figure = plots.trial_losses(logs, read_trials(tmp_path / "run"), 4)
    assert [line.get_linewidth() for line in figure.axes[0].lines].count(2.5) == 1  # the chosen trial stands out
    assert read_trials(tmp_path / "plain") is None and read_trial_logs(tmp_path / "plain") == {}


def test_a_time_budget_fixes_the_steps_at_the_start_and_keeps_them_on_resume(mir1k_root, tmp_path, monkeypatch):
    import json

    import shsep.train.budget as training

    config = replace(get_profile("smoke"), time_budget=500.0, checkpoint_every=2)  # long, so the real seconds spent
    monkeypatch.setattr(training, "time_training_steps", lambda *args, **kwargs: 50.0)  # do not count: 465 / 50: 9
    train(config, tmp_path / "whole", mir1k_root, progress=False)
    decided = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert (decided["steps"], decided["decay_step"]) == (9, 7)  # smoke's ×0.2 at step 16 of 20 moves to 7 of 9
    assert list(read_training_log(tmp_path / "whole")["step"]) == list(range(1, 10))

    train(config, tmp_path / "split", mir1k_root, progress=False, stop_after=4)
    monkeypatch.setattr(training, "time_training_steps", lambda *args, **kwargs: 10.0)  # faster now: ignored
    train(config, tmp_path / "split", mir1k_root, resume=True, progress=False)
    whole = read_checkpoint(tmp_path / "whole" / "checkpoint.pt")
    split = read_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert split["step"] == whole["step"] == 9 and split["config"]["steps"] == 9
    for key, value in whole["model"].items():
        torch.testing.assert_close(split["model"][key], value, rtol=0, atol=0, msg=key)
    # the same as a run told its 9 steps outright: the timing leaves the weights and windows alone
    train(replace(config, time_budget=0.0, steps=9, decay_step=7), tmp_path / "plain", mir1k_root, progress=False)
    for key, value in read_checkpoint(tmp_path / "plain" / "checkpoint.pt")["model"].items():
        torch.testing.assert_close(whole["model"][key], value, rtol=0, atol=0, msg=key)


def test_a_time_budgets_run_fits_its_steps_again_to_its_own_pace_and_keeps_them_on_resume(mir1k_root, tmp_path,
                                                                                          monkeypatch):
    """At its first checkpoint after the warm-up, a budget's run takes the steps its own pace pays for: written to
    its config and checkpoint, the same run as one told them outright, and kept on resume (the checkpoint's
    figure wins over a config.json left behind by an interruption)."""
    import json

    import shsep.train.budget as training

    config = replace(get_profile("smoke"), time_budget=500.0, checkpoint_every=2)
    monkeypatch.setattr(training, "time_training_steps", lambda *args, **kwargs: 50.0)  # timed: 9 steps
    monkeypatch.setattr(training, "REFIT_FROM_STEPS", 0)
    paces = []
    monkeypatch.setattr(training, "steps_at_pace", lambda config, *pace: paces.append(pace) or 13)
    train(config, tmp_path / "whole", mir1k_root, progress=False)
    (done, seconds_training, seconds_spent), = paces
    assert done == 2 and 0 < seconds_training <= seconds_spent  # at the first checkpoint, the timing counted too
    decided = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert (decided["steps"], decided["decay_step"]) == (13, 10)  # the staircase moves again: 7 of 9, 10 of 13
    assert list(read_training_log(tmp_path / "whole")["step"]) == list(range(1, 14))
    whole = read_checkpoint(tmp_path / "whole" / "checkpoint.pt")
    train(replace(config, time_budget=0.0, steps=13, decay_step=10), tmp_path / "plain", mir1k_root, progress=False)
    for key, value in read_checkpoint(tmp_path / "plain" / "checkpoint.pt")["model"].items():
        torch.testing.assert_close(whole["model"][key], value, rtol=0, atol=0, msg=key)

    train(config, tmp_path / "split", mir1k_root, progress=False, stop_after=5)
    stale = json.loads((tmp_path / "split" / "config.json").read_text()) | {"steps": 9, "decay_step": 7}
    (tmp_path / "split" / "config.json").write_text(json.dumps(stale))  # as if stopped before config.json was written
    monkeypatch.setattr(training, "steps_at_pace", lambda *args: 20)  # a resume fits nothing again
    train(config, tmp_path / "split", mir1k_root, resume=True, progress=False)
    split = read_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert split["step"] == 13 and json.loads((tmp_path / "split" / "config.json").read_text())["steps"] == 13
    for key, value in whole["model"].items():
        torch.testing.assert_close(split["model"][key], value, rtol=0, atol=0, msg=key)


def test_the_refit_falls_at_a_checkpoint_after_the_warm_up_and_fills_the_rest_of_the_budget():
    from shsep.train.budget import REFIT_SHARE, refit_step, steps_at_pace

    recipe = replace(get_profile("cpu"), time_budget=7200.0, steps=16509, batch_size=4, warmup_steps=1000)
    assert refit_step(recipe) == 1000
    assert refit_step(replace(recipe, warmup_steps=1200)) == 2000  # the next checkpoint: its pass is in the pace
    assert refit_step(replace(recipe, warmup_steps=0, checkpoint_every=500)) == 1000  # 5 % of the steps: 825
    assert refit_step(replace(recipe, init_trials=4)) is None  # the trials' pace is not the run's
    assert refit_step(replace(recipe, time_budget=0.0)) is None
    assert refit_step(get_profile("smoke")) is None  # too short to measure twice
    # 1000 steps in 380 s, 500 s since the timing began: the rest of 97 % of 2 hours at 0.38 s per step
    assert steps_at_pace(recipe, 1000, 380.0, 500.0) == 1000 + int((7200 * REFIT_SHARE - 500) / 0.38)
    assert steps_at_pace(recipe, 1000, 380.0, 7100.0) == 1001  # over budget already: one more step, to end there


def test_a_short_time_budget_trains_the_profiles_cheaper_network_and_keeps_it_on_resume(mir1k_root, tmp_path,
                                                                                           monkeypatch):
    """Where the budget buys under NARROW_BELOW of the steps, budget_model is timed and trained instead: the same
    run as that network told its steps outright, and a resume keeps it."""
    import json

    import shsep.train.budget as training
    from shsep.models import ModelConfig

    narrow = ModelConfig("park", channels=4, stacks=2, depth=2, growth=0)
    config = replace(get_profile("smoke"), time_budget=500.0, checkpoint_every=2, budget_model=narrow)
    timed = []

    def seconds_per_step(model, *args, **kwargs):  # the profile's network: 50 s (9 of 20 steps); the narrow: 40
        timed.append(sum(p.numel() for p in model.parameters()))
        return 50.0 if len(timed) == 1 else 40.0

    monkeypatch.setattr(training, "time_training_steps", seconds_per_step)
    train(config, tmp_path / "short", mir1k_root, progress=False, stop_after=4)
    decided = json.loads((tmp_path / "short" / "config.json").read_text())
    assert decided["model"]["channels"] == 4 and decided["steps"] == 11 and timed[0] > timed[1]
    train(config, tmp_path / "short", mir1k_root, resume=True, progress=False)
    short = read_checkpoint(tmp_path / "short" / "checkpoint.pt")
    assert short["step"] == 11 and short["config"]["model"]["channels"] == 4
    plain = replace(config, time_budget=0.0, model=narrow, steps=11, decay_step=decided["decay_step"])
    train(plain, tmp_path / "plain", mir1k_root, progress=False)
    for key, value in read_checkpoint(tmp_path / "plain" / "checkpoint.pt")["model"].items():
        torch.testing.assert_close(short["model"][key], value, rtol=0, atol=0, msg=key)

    timed.clear()
    monkeypatch.setattr(training, "time_training_steps", lambda model, *a, **k: timed.append(1) or 20.0)  # 23 steps
    train(config, tmp_path / "long", mir1k_root, progress=False, stop_after=2)
    assert json.loads((tmp_path / "long" / "config.json").read_text())["model"]["channels"] == 8 and len(timed) == 1


def test_a_time_budgets_cheaper_network_trains_with_its_own_spectral_loss_weight(mir1k_root, tmp_path, monkeypatch):
    """budget_resolution_loss is the weight the cheaper network trains with (the cpu profile's narrow network was
    validated without the spectral loss); the profile's own network keeps resolution_loss; a resume keeps both."""
    import json

    import shsep.train.budget as training
    from shsep.models import ModelConfig

    narrow = ModelConfig("park", channels=4, stacks=2, depth=2, growth=0)
    config = replace(get_profile("smoke"), remix=0.5, resolution_loss=1.0, time_budget=500.0, checkpoint_every=2,
                     budget_model=narrow, budget_resolution_loss=0.0)
    monkeypatch.setattr(training, "time_training_steps", lambda model, *a, **k: 50.0)  # 9 of 20 steps: the narrow
    train(config, tmp_path / "short", mir1k_root, progress=False, stop_after=2)
    decided = json.loads((tmp_path / "short" / "config.json").read_text())
    assert decided["model"]["channels"] == 4 and decided["resolution_loss"] == 0.0 and decided["steps"] == 9
    train(config, tmp_path / "short", mir1k_root, resume=True, progress=False)
    short = read_checkpoint(tmp_path / "short" / "checkpoint.pt")
    assert short["step"] == 9 and short["config"]["resolution_loss"] == 0.0

    monkeypatch.setattr(training, "time_training_steps", lambda model, *a, **k: 20.0)  # 23 steps: its own network
    train(config, tmp_path / "long", mir1k_root, progress=False, stop_after=2)
    decided = json.loads((tmp_path / "long" / "config.json").read_text())
    assert decided["model"]["channels"] == 8 and decided["resolution_loss"] == 1.0


def test_a_time_budgets_cheaper_network_trains_with_its_own_batch_size_and_the_same_warm_up_in_windows(
        mir1k_root, tmp_path, monkeypatch):
    """budget_batch_size is the batch the cheaper network trains with, timed on batches of that size; its warm-up
    covers as many windows as the profile's; a resume keeps both; the run is the one told them outright."""
    import json

    import shsep.train.budget as training
    from shsep.models import ModelConfig

    narrow = ModelConfig("park", channels=4, stacks=2, depth=2, growth=0)
    config = replace(get_profile("smoke"), batch_size=4, schedule="cosine", warmup_steps=3, time_budget=500.0,
                     checkpoint_every=2, budget_model=narrow, budget_batch_size=2)
    timed_windows = []

    def seconds_per_step(model, batch_at, *args, **kwargs):  # 9 steps of the profile's network: the narrow one
        timed_windows.append(len(batch_at(0)[0]))
        return 50.0

    monkeypatch.setattr(training, "time_training_steps", seconds_per_step)
    train(config, tmp_path / "short", mir1k_root, progress=False, stop_after=2)
    decided = json.loads((tmp_path / "short" / "config.json").read_text())
    assert timed_windows == [4, 2]
    assert (decided["model"]["channels"], decided["batch_size"], decided["warmup_steps"]) == (4, 2, 6)
    train(config, tmp_path / "short", mir1k_root, resume=True, progress=False)
    short = read_checkpoint(tmp_path / "short" / "checkpoint.pt")
    assert short["step"] == 9 and short["config"]["batch_size"] == 2
    plain = replace(config, time_budget=0.0, model=narrow, steps=9, batch_size=2, warmup_steps=6)
    train(plain, tmp_path / "plain", mir1k_root, progress=False)
    for key, value in read_checkpoint(tmp_path / "plain" / "checkpoint.pt")["model"].items():
        torch.testing.assert_close(short["model"][key], value, rtol=0, atol=0, msg=key)

    monkeypatch.setattr(training, "time_training_steps", lambda model, *a, **k: 20.0)  # 23 steps: its own network
    train(config, tmp_path / "long", mir1k_root, progress=False, stop_after=2)
    decided = json.loads((tmp_path / "long" / "config.json").read_text())
    assert (decided["model"]["channels"], decided["batch_size"], decided["warmup_steps"]) == (8, 4, 3)


def test_a_run_started_before_a_config_field_existed_resumes(mir1k_root, tmp_path):
    """A checkpoint written before TrainConfig gained a field (here budget_model, which the cpu profile sets)
    resumes under today's profile; a real difference is still refused."""
    from shsep.models import ModelConfig

    config = replace(get_profile("smoke"), budget_model=ModelConfig("park", channels=4, stacks=2, depth=2, growth=0))
    train(config, tmp_path / "run", mir1k_root, progress=False, stop_after=10)
    path = tmp_path / "run" / "checkpoint.pt"
    payload = torch.load(path, weights_only=False)
    del payload["config"]["budget_model"]  # as an older shsep wrote it
    torch.save(payload, path)
    train(config, tmp_path / "run", mir1k_root, resume=True, progress=False)
    assert read_checkpoint(path)["step"] == config.steps
    with pytest.raises(ValueError, match="another configuration"):
        train(replace(config, steps=30, learning_rate=0.5), tmp_path / "run", mir1k_root, resume=True, progress=False)


def test_a_network_chosen_by_hand_is_the_one_a_time_budget_trains():
    from shsep.models import ModelConfig
    from shsep.profiles import TrainConfig, with_overrides

    config = replace(get_profile("smoke"), budget_model=ModelConfig("park", channels=4, stacks=2, depth=2, growth=0))
    assert with_overrides(config, channels=16).budget_model is None
    assert with_overrides(config, target="voice").budget_model.outputs == 1  # a target's outputs reach both
    assert get_profile("cpu").budget_resolution_loss == 0.0  # the narrow network's validated recipe
    assert get_profile("cpu", resolution_loss=0.5).budget_resolution_loss is None  # a loss chosen by hand is trained
    assert get_profile("cpu").budget_batch_size == 4 and get_profile("songs").budget_batch_size == 4
    assert get_profile("cpu", batch_size=8).budget_batch_size is None  # so is a batch size chosen by hand
    assert TrainConfig.from_dict(config.to_dict()) == config  # and the run's config.json keeps it


def test_timing_steps_leaves_the_model_alone_and_budgets_count_trials_and_refuse_too_little(mir1k_root, monkeypatch):
    from contextlib import nullcontext

    from shsep.models import build_model
    from shsep.train.budget import BUDGET_SHARE, steps_within_budget, time_training_steps

    config = get_profile("smoke")
    model = build_model(config.model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = torch.rand(2, 1, 512, 64)
    seconds = time_training_steps(model, lambda k: (batch, batch * 0.5, batch * 0.5), nullcontext(), config, count=2)
    assert seconds > 0
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0, msg=key)

    timed = []  # with short patches, half windows are timed too and weighted by their share of the steps
    shapes = lambda k: timed.append(k) or (batch, batch[:, 0] * 0.5, batch[:, 0] * 0.5)  # noqa: E731
    import shsep.train.budget as budget

    original = budget._seconds_per_step
    assert original(model, shapes, nullcontext(), config, 1, 32) > 0
    monkeypatch.setattr(budget, "_seconds_per_step", lambda *args: {None: 2.0, 32: 1.0}[args[-1]])
    assert time_training_steps(model, shapes, nullcontext(), replace(config, short_patches=0.25)) == 1.75

    recipe = replace(get_profile("cpu"), time_budget=7200.0)  # 1 trial: every step is the run's
    assert steps_within_budget(recipe, 0.5) == int(7200 * BUDGET_SHARE / 0.5)
    assert steps_within_budget(recipe, 0.5, seconds_spent=10) == int((7200 * BUDGET_SHARE - 10) / 0.5)
    screened = replace(recipe, init_trials=4, trial_steps=1000)  # the 3 losing trials' steps are paid for too
    assert steps_within_budget(screened, 0.5) == int(7200 * BUDGET_SHARE / 0.5) - 3000
    with pytest.raises(ValueError, match="pays for 669 steps at 10.000 s per step"):
        steps_within_budget(recipe, 10.0)  # not even one checkpoint (every 1000 steps)
