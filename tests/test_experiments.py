"""The ablation machinery: arms, the experiment log, the activation probe, and one real smoke arm end to end."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from shsep import (ablation_findings, arms, evaluator_questions, experiment_log, experiments, probes, recipe_search,
                   search_studies)
from shsep.data import index_clips
from shsep.models import ModelConfig, build_model
from shsep.profiles import get_profile
from shsep.train import read_training_log
from shsep.train import train


def test_every_arm_changes_exactly_what_it_says():
    budget = arms.BUDGETS["cpu-1000"]
    base = arms.ARMS_BY_NAME["base"].config(budget)
    assert base == budget.base and base.model.growth > 0 and base.model.stacks == 2
    configs = {arm.name: arm.config(budget) for arm in arms.ARMS}
    assert len({str(c) for c in configs.values()}) == len(arms.ARMS)  # no two arms train the same thing
    assert configs["stacks-4"].model.stacks == 4 and configs["stacks-1"].model.stacks == 1
    assert configs["constant"].model.growth == 0 and configs["constant"].model.channels == base.model.channels
    assert configs["constant-wide"].model.channels == 2 * base.model.channels
    assert configs["voice-only"].model.outputs == 1 and configs["voice-only"].target == "voice"
    assert configs["direct-report-head"].model.head == "bn-relu" and configs["direct-report-head"].target == "direct"
    assert configs["uniform-sampler"].sampler == "uniform" and configs["base-seed1"].seed == 1
    for name, config in configs.items():  # everything else is the base's
        assert (config.steps, config.learning_rate, config.batch_size) == (base.steps, base.learning_rate, base.batch_size), name


def test_every_question_has_its_arms():
    names = {arm.name for arm in arms.ARMS}
    for question, question_arms in arms.QUESTION_ARMS.items():
        assert set(question_arms) <= names, question


def test_heads_can_be_swapped():
    linear = build_model(ModelConfig("park", 8, 1, 2, 0, head="linear"))
    report = build_model(ModelConfig("park", 8, 1, 2, 0, head="bn-relu"))
    assert isinstance(linear.heads[0], torch.nn.Conv2d)
    assert isinstance(report.heads[0][-1], torch.nn.ReLU)
    with pytest.raises(ValueError, match="head must be one of"):
        ModelConfig(head="sigmoid")
    assert ModelConfig(**{k: v for k, v in ModelConfig().to_dict().items() if k != "head"}).head is None  # old checkpoints


def test_log_appends_and_replaces_rows(tmp_path):
    path = tmp_path / "experiments.csv"
    experiment_log.append_row({"budget": "ci-20", "arm": "base", "voice_gnsdr": 1.0}, path)
    experiment_log.append_row({"budget": "ci-20", "arm": "stacks-1", "voice_gnsdr": 2.0}, path)
    experiment_log.append_row({"budget": "cpu-1000", "arm": "base", "voice_gnsdr": 3.0}, path)
    experiment_log.append_row({"budget": "ci-20", "arm": "base", "voice_gnsdr": 4.0}, path)  # a rerun replaces its row
    log = experiment_log.read_experiment_log(path)
    assert len(log) == 3
    assert list(experiment_log.read_experiment_log(path, "ci-20").set_index("arm")["voice_gnsdr"]) == [2.0, 4.0]
    assert pd.read_excel(path.with_suffix(".xlsx")).shape == log.shape
    assert not list(tmp_path.glob("*.tmp*"))
    assert experiments.missing_arms("cpu-1000", path) == [a.name for a in arms.ARMS if a.name != "base"]
    assert experiment_log.read_experiment_log(tmp_path / "none.csv").empty


def test_spread_and_comparison_sentences():
    log = pd.DataFrame([{"arm": "base", **{m: 5.0 for m in experiment_log.METRICS}},
                        {"arm": "base-seed1", **{m: 5.5 for m in experiment_log.METRICS}},
                        {"arm": "stacks-4", **{m: 6.5 for m in experiment_log.METRICS}},
                        {"arm": "stacks-1", **{m: 5.2 for m in experiment_log.METRICS}}])
    assert ablation_findings.run_to_run_spread(log)["voice_gnsdr"] == pytest.approx(0.5)
    assert "3.0× the 0.50 dB" in ablation_findings.compare(log, "stacks-4")
    assert "within the 0.50 dB" in ablation_findings.compare(log, "stacks-1")
    assert "not run yet" in ablation_findings.compare(log, "constant")


def test_probe_sees_a_dead_relu_head_and_restores_batchnorm():
    torch.manual_seed(0)
    model = build_model(ModelConfig("park", 8, 1, 2, 0, head="bn-relu"))
    mixture = torch.rand(4, 1, 64, 16)
    accompaniment, voice = mixture[:, 0] * 0.5, mixture[:, 0] * 0.5
    alive = probes.probe_heads(model, mixture, accompaniment, voice, "direct")[0]
    assert alive["head_gradient_norm"] > 0 and 0 < alive["relu_input_positive_fraction"] < 1
    batchnorm = model.heads[0][1]
    with torch.no_grad():
        batchnorm.bias.fill_(-100.0)  # every ReLU input negative: the head outputs zeros, and no gradient flows
    before = {k: v.clone() for k, v in model.state_dict().items()}
    dead = probes.probe_heads(model, mixture, accompaniment, voice, "direct")[0]
    assert dead["prediction_nonpositive_fraction"] == 1.0 and dead["estimate_mean"] == 0.0
    assert dead["relu_input_positive_fraction"] == 0.0 and dead["head_gradient_norm"] == 0.0
    for key, value in model.state_dict().items():  # probing changed no weight and no running statistic
        torch.testing.assert_close(value, before[key], rtol=0, atol=0, msg=key)


def test_evaluation_clips_are_spread_over_the_test_set(mir1k_root):
    clips = arms.evaluation_clips(arms.BUDGETS["cpu-1000"], mir1k_root)
    assert len(clips) == 100 and len(set(clips)) == 100
    singers = {c.singer for c in index_clips(mir1k_root, "test")}
    assert {c.rsplit("_", 2)[0] for c in clips} == singers  # every singer present, not the first few
    assert clips == arms.evaluation_clips(arms.BUDGETS["cpu-1000"], mir1k_root)


def test_callback_and_training_time_survive_resume(mir1k_root, tmp_path):
    config = replace(get_profile("smoke"), steps=6, checkpoint_every=2)
    seen = []
    train(config, tmp_path, mir1k_root, progress=False, stop_after=3, on_checkpoint=lambda s, m: seen.append(s))
    train(config, tmp_path, mir1k_root, resume=True, progress=False, on_checkpoint=lambda s, m: seen.append(s))
    assert seen == [2, 3, 4, 6]
    seconds = read_training_log(tmp_path)["seconds"].to_numpy()
    assert np.all(np.diff(seconds) >= 0)  # summed over the run and its resume, not restarted


@pytest.fixture(scope="module")
def smoke_arms(mir1k_root, tmp_path_factory):
    """The three smoke arms the evaluator questions need, trained and scored once for this module."""
    folder = tmp_path_factory.mktemp("ablations")
    for arm in ("direct-report-head", "base", "masks-report-head"):
        experiments.run_arm(arm, "ci-20", folder / "experiments.csv", folder / "runs", mir1k_root, progress=False)
    return folder


def test_a_smoke_arm_end_to_end(mir1k_root, smoke_arms):
    log = experiment_log.read_experiment_log(smoke_arms / "experiments.csv", "ci-20").set_index("arm")
    assert list(log.index) == ["direct-report-head", "base", "masks-report-head"]
    row = log.loc["direct-report-head"]
    assert row["clips_scored"] == 4 and row["steps"] == 20 and row["parameters"] > 0
    assert all(np.isfinite(row[m]) for m in experiment_log.METRICS)
    run_dir = smoke_arms / "runs" / "ci-20" / "direct-report-head"
    probes_path = experiments.activations_path("ci-20", "direct-report-head", smoke_arms / "experiments.csv")
    assert probes_path == smoke_arms / "activations_ci-20" / "direct-report-head.csv"  # beside the log
    assert sorted(probes.read_activations(probes_path)["step"].unique()) == [0, 10, 20]
    # A second call reuses the finished run instead of training again.
    modified = (run_dir / "checkpoint.pt").stat().st_mtime_ns
    experiments.run_arm("direct-report-head", "ci-20", smoke_arms / "experiments.csv", smoke_arms / "runs", mir1k_root,
               progress=False)
    assert (run_dir / "checkpoint.pt").stat().st_mtime_ns == modified
    assert len(experiment_log.read_experiment_log(smoke_arms / "experiments.csv")) == 3


def test_evaluators_agree_and_batching_is_exact(mir1k_root, smoke_arms):
    tables = evaluator_questions.run_evaluator_questions("ci-20", smoke_arms, smoke_arms / "runs", mir1k_root)
    evaluators = tables["evaluators"].set_index("method")[experiment_log.METRICS]
    assert list(evaluators.index) == evaluator_questions.EVALUATOR_METHODS
    v3 = evaluators.iloc[:3]
    assert (v3.max() - v3.min()).max() < 0.01
    inference = tables["inference"]
    assert list(inference["arm"].unique()) == ["masks-report-head", "direct-report-head"]
    for _, table in inference.groupby("arm"):
        scores = table.set_index("method")[experiment_log.METRICS]
        assert len(scores) == len(evaluator_questions.INFERENCE_MODES)
        assert (scores.iloc[0] - scores.iloc[1]).abs().max() < 0.01  # eval mode: batching changes nothing
    assert (smoke_arms / "evaluators_ci-20.csv").is_file()


def test_findings_are_generated_from_the_log():
    """Notebook 07's measured conclusions come from the log: numbers, gaps and the verdict against the seed spread."""
    import pandas as pd

    def row(arm, voice, accompaniment):
        return {"budget": "cpu-1000", "arm": arm, "change": f"change of {arm}", "steps": 1000, "clips_scored": 100,
                "parameters": 1000, "train_seconds": 60.0, "voice_gnsdr": voice, "accompaniment_gnsdr": accompaniment,
                "voice_gsir": 0.0, "accompaniment_gsir": 0.0, "voice_gsar": 9.0, "accompaniment_gsar": 8.0}

    log = pd.DataFrame([row("base", 6.0, 6.0), row("base-seed1", 5.5, 5.0), row("base-seed2", 5.8, 5.9),
                        row("stacks-1", 6.2, 6.1), row("stacks-4", 8.0, 6.5)])
    text = ablation_findings.findings("stacks", log)
    assert "**6.20 / 6.10 dB**" in text and "vs base +2.00 / +0.50 dB" in text
    assert "voice: best `stacks-4`, largest gap 2.00 dB, **beyond** the seed spread" in text  # spread 0.5
    assert "accompaniment: best `stacks-4`, largest gap 0.50 dB, **within** the seed spread" in text  # spread 1.0
    assert "no arm" in ablation_findings.findings("samplers", log.iloc[:0])


def test_gpu_sweep_candidates_against_the_mean_of_its_base_runs():
    def candidate(arm, seed, validation):
        return {"budget": "gpu-sweep", "arm": arm, "change": f"profile cpu, {arm}", "parameters": 10, "steps": 100,
                "seed": seed, "device": "cuda: H200", "validation_voice_gnsdr": validation[0],
                "validation_accompaniment_gnsdr": validation[1]}

    log = pd.DataFrame([candidate("gpu-base-s0", 0, (10.0, 10.2)), candidate("gpu-base-s1", 1, (10.2, 10.0)),
                        candidate("gpu-wide-s0", 0, (9.6, 10.4)),
                        {"budget": "recipe", "arm": "cpu", "validation_voice_gnsdr": 1.0}])
    sweep = search_studies.sweep_runs(log)
    assert list(sweep["arm"]) == ["gpu-base-s0", "gpu-base-s1", "gpu-wide-s0"]
    wide = sweep.iloc[2]
    assert wide["voice_against_base"] == pytest.approx(-0.5) and wide["accompaniment_against_base"] == pytest.approx(0.3)
    text = search_studies.sweep_findings(sweep)
    assert "seed 0, seed 1) reaches 10.10 / 10.10 dB" in text and "**-0.50 / +0.30 dB** against the base" in text
    assert "gpu-base-s1`" not in text  # the base runs are the reference, not candidates
    assert "over 2 seeds" not in text  # one seed per lever: no spread to report
    assert "No GPU sweep" in search_studies.sweep_findings(sweep.iloc[:0])


def test_screening_runs_against_the_base_runs_of_the_same_hold_out_and_steps():
    def run(arm, change, steps, validation):
        return {"budget": "screening", "arm": arm, "change": f"profile cpu, steps {steps}, {change}", "steps": steps,
                "seed": 1, "validation_clips": 43, "validation_voice_gnsdr": validation[0],
                "validation_accompaniment_gnsdr": validation[1]}

    log = pd.DataFrame([run("a-base", "hold-out abjones", 1500, (6.0, 5.0)),
                        run("a-base-s2", "seed 2, hold-out abjones", 1500, (5.6, 5.2)),
                        run("a-shift", "hold-out abjones, voice_shift 0.5", 1500, (5.5, 5.3)),
                        run("b-base", "hold-out amy", 1500, (9.0, 9.0)),
                        run("b-shift", "voice_shift 0.5, hold-out amy", 1500, (9.5, 8.0)),
                        {"budget": "recipe", "arm": "cpu", "change": "hold-out abjones", "steps": 1500}])
    table = search_studies.screening_runs(log).set_index("arm")
    assert list(table.index) == ["a-base", "a-base-s2", "a-shift", "b-base", "b-shift"]
    assert table.loc["a-shift", "voice_against_base"] == pytest.approx(-0.3)
    assert table.loc["a-shift", "accompaniment_against_base"] == pytest.approx(0.2)
    assert table.loc["a-shift", "base_voice_range"] == pytest.approx(0.4)
    assert table.loc["b-shift", "voice_against_base"] == pytest.approx(0.5)  # against its own hold-out's base
    assert table.loc["b-shift", "held_out"] == "amy" and bool(table.loc["b-base", "base"])
    text = search_studies.screening_findings(search_studies.screening_runs(log))
    assert "**abjones held out, 1500 steps** (43 validation clips): the base runs (2: seed 1, seed 1) reach " \
           "5.80 / 5.10 dB, 0.40 / 0.20 dB apart" in text
    assert "* `a-shift` (voice_shift 0.5): 5.50 / 5.30, **-0.30 / +0.20 dB** against the base" in text
    assert "(one seed: no spread measured)" in text  # amy's base ran once
    assert "No screening run" in search_studies.screening_findings(search_studies.screening_runs(log.iloc[:0]))


def test_gpu_sweep_reports_a_lever_trained_over_several_seeds_as_mean_and_range():
    def candidate(arm, seed, validation):
        return {"budget": "gpu-sweep", "arm": arm, "change": arm, "parameters": 10, "steps": 100, "seed": seed,
                "device": "cuda: H200", "validation_voice_gnsdr": validation[0],
                "validation_accompaniment_gnsdr": validation[1]}

    log = pd.DataFrame([candidate("gpu-base-s1", 1, (10.0, 10.0)), candidate("gpu-ratio-s10", 10, (10.5, 10.1)),
                        candidate("gpu-ratio-s2", 2, (10.1, 10.3)), candidate("gpu-ratio-s3", 3, (10.3, 10.2)),
                        candidate("gpu-wide-s0", 0, (9.0, 9.0))])
    spread = search_studies.lever_seed_spread(search_studies.sweep_runs(log))
    assert list(spread["lever"]) == ["ratio"]  # one seed of `wide`: not a spread
    ratio = spread.iloc[0]
    assert ratio["runs"] == 3 and ratio["seeds"] == "2, 3, 10"
    assert ratio["voice_mean"] == pytest.approx(10.3) and ratio["accompaniment_against_base"] == pytest.approx(0.2)
    assert (ratio["voice_min"], ratio["voice_max"]) == (10.1, 10.5)
    text = search_studies.sweep_findings(search_studies.sweep_runs(log))
    assert "`gpu-ratio` over 3 seeds (2, 3, 10): mean **10.30 / 10.20 dB**, +0.30 / +0.20 against the base" in text
    assert "voice 10.10 to 10.50, accompaniment 10.10 to 10.30" in text


def test_seed_study_ranks_initial_weights_by_early_loss_against_validation():
    def run(arm, init_seed, data_seed, loss, validation):
        return {"budget": "gpu-sweep", "arm": arm, "change": arm, "parameters": 10, "device": "cuda: H200",
                "seed": data_seed, "init_seed": init_seed, "steps": 100,
                "loss_501_1000": loss, "validation_voice_gnsdr": validation, "validation_accompaniment_gnsdr": validation}

    log = pd.DataFrame([run("gpu-init0", 0, 0, 0.012, 9.0), run("gpu-init1", 1, 0, 0.010, 9.6),
                        run("gpu-init2", 2, 0, 0.011, 8.8), run("gpu-data1", 0, 1, 0.013, 9.5),
                        run("gpu-base-s1", 1, 1, 0.009, 10.0),
                        {"budget": "recipe", "arm": "cpu-screened", "init_seed": 1, "device": "cpu: EPYC",
                         "init_trial_losses": "0:0.0121 1:0.0101 2:0.0112"}])
    seeds = search_studies.seed_runs(log)
    assert list(seeds["arm"]) == ["gpu-data1", "gpu-init0", "gpu-init1", "gpu-init2"]
    assert "gpu-init0" not in set(search_studies.sweep_runs(log)["arm"])  # not a lever of the sweep
    text = search_studies.seed_findings(seeds, log)
    assert "8.80 to 9.60 dB, a spread of **0.80 dB**" in text
    assert "(lowest first): init 1, 2, 0" in text and "(best first): init 1, 0, 2" in text
    assert "rank correlation 0.50" in text
    assert "(init 1) gives 9.60 dB, **+0.47 dB** against the mean" in text
    assert "init 0, data seed 1) move it by +0.50 dB" in text
    assert "`cpu-screened` screened 3 initial weights" in text and "and continued init 1" in text
    assert "No seed study" in search_studies.seed_findings(seeds.iloc[:0])


def test_recipe_runs_their_gains_and_the_training_time_points():
    """Notebook 07's "reaching the paper on a CPU": recipe runs in date order, each one's gain over the run
    before it, the verdict against the goal, and every candidate's figure against its training time."""
    def recipe(arm, date, validation, test, seconds):
        return {"budget": "recipe", "arm": arm, "change": f"profile {arm}", "parameters": 10, "steps": 100,
                "precision": "bf16", "device": "cpu", "clips_scored": 413, "train_seconds": seconds, "date": date,
                "validation_voice_gnsdr": validation[0], "validation_accompaniment_gnsdr": validation[1],
                "voice_gnsdr": test[0], "accompaniment_gnsdr": test[1]}

    log = pd.DataFrame([recipe("wider", "2026-11-26 01:00", (9.5, 9.4), (10.1, 9.6), 7200.0),
                        recipe("cpu", "2026-11-25 21:00", (9.0, 9.2), (9.5, 9.3), 5400.0),
                        recipe("park", "2026-11-25 19:00", (np.nan, np.nan), (9.0, 8.6), 3600.0),
                        {"budget": "cpu-1000", "arm": "base", "train_seconds": 360.0, "voice_gnsdr": 6.0,
                         "accompaniment_gnsdr": 6.5, "clips_scored": 100}])
    runs = recipe_search.recipe_runs(log)
    assert list(runs["arm"]) == ["park", "cpu", "wider"] and list(runs["hours"]) == [1.0, 1.5, 2.0]
    assert runs["test_voice_gain"].iloc[2] == pytest.approx(0.6)
    assert runs["validation_accompaniment_gain"].iloc[2] == pytest.approx(0.2)
    text = recipe_search.recipe_findings(runs)
    assert "test +0.60 / +0.30 dB" in text and "`wider`: the milestone (10.0 / 9.5) is **reached**" in text
    assert "no validation songs held out" in text and "against `park`: test +0.50 / +0.70 dB" in text
    assert "nan" not in text
    assert "the goal (11.0 / 10.4) is missed: voice by 0.90 dB, accompaniment by 0.80 dB" in text
    assert "No recipe run" in recipe_search.recipe_findings(runs.iloc[:0])
    assert "opposite directions" not in text

    # a later run is measured against the incumbent (best earlier validation), not the run just before it
    longer = pd.DataFrame([recipe("longer", "2026-11-26 03:00", (9.0, 9.0), (10.5, 9.9), 7000.0)])
    runs = recipe_search.recipe_runs(pd.concat([log, longer]))
    assert list(runs["reference"].iloc[1:]) == ["park", "cpu", "wider"] and pd.isna(runs["reference"].iloc[0])
    assert runs["validation_voice_gain"].iloc[3] == pytest.approx(-0.5)
    text = recipe_search.recipe_findings(runs)
    assert "against `wider`: validation -0.50 / -0.40, test +0.40 / +0.30 dB" in text
    assert "opposite directions for `longer` against `wider` (validation -0.45, test +0.35 dB" in text
    assert "The best run by validation, `wider`" in text

    report_log = pd.DataFrame({"gpu": ["GTX1060(6GB)", "RTX2070(8GB)"], "train_seconds": [10800.0, float("nan")],
                               "stacks": [4, 4], "channels": [64, 256], "growth": [64, 0],
                               "iterations": [15000, 15000], "voice_gnsdr": [10.6, 10.4],
                               "accompaniment_gnsdr": [9.8, 9.8], "test_clips": [825, 825]})
    points = recipe_search.training_time_points(log, report_log)
    assert len(points) == 5  # the report's run without a training time is left out
    report = points[points["group"] == "report (GTX1060(6GB))"].iloc[0]
    assert report["hours"] == 3.0 and report["label"] == "4 stacks, 64 +64, 15000 steps" and report["clips"] == 825
    assert set(points["group"]) >= {"shsep recipe runs (CPU)", "shsep ablation arms, cpu-1000 (CPU)"}


def test_gpu_sweep_candidates_are_valid_cpu_profile_variants_that_fit_its_budget():
    """scripts/gpu_sweep.py: every candidate builds, and no step count exceeds what 2 CPU hours of the base buy."""
    import importlib.util
    from pathlib import Path

    from shsep.models import build_model
    from shsep.profiles import get_profile

    path = Path(__file__).parents[1] / "scripts" / "gpu_sweep.py"
    spec = importlib.util.spec_from_file_location("gpu_sweep", path)
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    for name, (overrides, steps) in sweep.CANDIDATES.items():
        config = get_profile("cpu", steps=steps, checkpoint_every=sweep.VALIDATE_EVERY, **overrides)
        build_model(config.model)
        cheaper = config.model.channels < 24 and config.model.stacks == 2
        assert steps <= sweep.BASE_STEPS or cheaper, name


def test_a_refit_is_measured_against_the_run_whose_recipe_it_repeats():
    """A run that held no songs out and otherwise repeats a validated run's recipe is that recipe's refit on every
    training clip: its reference is that run (not the best by validation), and the findings say so."""
    recipe = {name: 1 for name in recipe_search.RECIPE_COLUMNS} | {"target": "abs-ratio", "head": "default"}

    def run(arm, date, validation, test, clips, **changes):
        return recipe | changes | {
            "budget": "recipe", "arm": arm, "change": f"profile {arm}", "parameters": 10, "precision": "bf16",
            "device": "cpu", "clips_scored": 413, "train_seconds": 6000.0, "date": date, "train_clips": clips,
            "validation_voice_gnsdr": validation[0], "validation_accompaniment_gnsdr": validation[1],
            "voice_gnsdr": test[0], "accompaniment_gnsdr": test[1]}

    log = pd.DataFrame([run("park", "2026-11-25 19:00", (np.nan, np.nan), (9.0, 8.6), 175, steps=5000),
                        run("cpu", "2026-11-26 13:00", (10.4, 10.6), (10.96, 10.46), 160),
                        run("longer", "2026-11-26 16:00", (10.5, 10.7), (10.97, 10.44), 160, steps=14000),
                        run("cpu-all", "2026-11-26 22:00", (np.nan, np.nan), (11.1, 10.5), 175)])
    runs = recipe_search.recipe_runs(log)
    assert list(runs["refit_of"].fillna("-")) == ["-", "-", "-", "cpu"]
    assert list(runs["reference"].iloc[1:]) == ["park", "cpu", "cpu"]
    assert runs["test_voice_gain"].iloc[3] == pytest.approx(0.14)
    text = recipe_search.recipe_findings(runs)
    assert "`cpu`'s recipe refitted on all 175 training clips, its last step kept" in text
    assert "against `cpu`: test +0.14 / +0.04 dB" in text
    assert "The best run by validation, `longer`: the milestone" in text
    assert "`cpu-all`, the refit of `cpu` on every training clip: the milestone (10.0 / 9.5) is **reached**; the " \
           "goal (11.0 / 10.4) is **reached**." in text
    assert "nan" not in text
    # a run on another front end or with a training lever on repeats no earlier recipe, and a row logged before
    # those columns existed counts as Park's front end with the levers off
    other = pd.concat([log, pd.DataFrame([run("cpu-16k", "2026-11-27 10:00", (np.nan, np.nan), (9.0, 9.0), 175,
                                              front_end_rate=16000)])], ignore_index=True)
    assert recipe_search.recipe_runs(other)["refit_of"].isna().iloc[-1]
    older = log.drop(columns=list(recipe_search.LATER_COLUMN_DEFAULTS))
    older.loc[3, list(recipe_search.LATER_COLUMN_DEFAULTS)] = list(recipe_search.LATER_COLUMN_DEFAULTS.values())
    older.loc[:2, "front_end_rate"] = np.nan
    assert recipe_search.recipe_runs(older)["refit_of"].iloc[3] == "cpu"
