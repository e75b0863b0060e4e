import json

import numpy as np
import pandas as pd
import pytest

from shsep.data import get_clip, load_sources
from shsep.evaluate import score_files
from shsep.metrics import EVALUATORS, score_estimates, summarise


def test_length_weighted_means():
    per_clip = pd.DataFrame({"samples": [1, 3], "voice_nsdr": [4.0, 8.0], "voice_sir": [0, 0], "voice_sar": [0, 0],
                             "accompaniment_nsdr": [1.0, 1.0], "accompaniment_sir": [0, 0], "accompaniment_sar": [0, 0]})
    summary = summarise(per_clip)
    assert summary["voice_gnsdr"] == 7.0 and summary["accompaniment_gnsdr"] == 1.0 and summary["clips_scored"] == 2


@pytest.fixture(scope="module")
def imperfect_estimates(mir1k_root):
    sources = load_sources(get_clip("annar_1_01", mir1k_root))
    references = np.stack([sources.accompaniment, sources.voice])
    rng = np.random.default_rng(0)
    estimates = 0.8 * references + 0.2 * sources.mixture + 0.01 * rng.standard_normal(references.shape)
    return references, estimates[::-1].copy(), sources.mixture  # swapped: permutation search must undo it


def test_evaluators_agree_on_real_clips(imperfect_estimates):
    rows = {name: score_estimates(*imperfect_estimates, evaluator=name) for name in EVALUATORS}
    for key in ("voice_sdr", "voice_sir", "voice_sar", "accompaniment_nsdr"):
        values = [rows[name][key] for name in EVALUATORS]
        assert max(values) - min(values) < 0.01, (key, values)
    assert rows["mir_eval"]["voice_nsdr"] > 3  # the permutation was found


def test_nsdr_of_the_mixture_is_zero(imperfect_estimates):
    references, _, mixture = imperfect_estimates
    row = score_estimates(references, np.stack([mixture, mixture]), mixture)
    assert abs(row["voice_nsdr"]) < 1e-9


def test_scoring_works_with_several_torch_threads(imperfect_estimates):
    """`shsep evaluate --workers 1` scores in a process with every core's threads: fast_bss_eval's torch backend
    fails there (torch 2.13's CPU linalg.solve), so scoring must not depend on it."""
    import torch

    references, estimates, mixture = imperfect_estimates
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        row = score_estimates(references, estimates, mixture)
    finally:
        torch.set_num_threads(threads)
    assert np.isfinite(row["voice_sdr"]) and np.isfinite(row["accompaniment_mixture_sdr"])


def test_silent_estimates_score_instead_of_crashing(imperfect_estimates):
    references, _, mixture = imperfect_estimates
    row = score_estimates(references, np.zeros_like(references), mixture)
    assert row["voice_sdr"] < -20


def test_score_files_joins_clips_in_order(mir1k_root, tmp_path):
    import soundfile as sf

    ids = ["annar_1_01", "annar_1_02"]
    sources = [load_sources(get_clip(c, mir1k_root)) for c in ids]
    voice = np.concatenate([s.voice for s in sources])
    accompaniment = np.concatenate([s.accompaniment for s in sources])
    sf.write(tmp_path / "v.flac", voice, 16000)
    sf.write(tmp_path / "a.flac", accompaniment, 16000)
    row = score_files(tmp_path / "v.flac", tmp_path / "a.flac", ids, mir1k_root)
    assert row["voice_sdr"] > 60 and row["samples"] == len(voice)


def test_evaluate_scores_clips_in_parallel_and_says_how_many(mir1k_root, tmp_path):
    from dataclasses import replace

    from shsep.evaluate import evaluate
    from shsep.profiles import get_profile
    from shsep.train import train

    checkpoint = train(replace(get_profile("smoke"), steps=2), tmp_path / "run", mir1k_root, progress=False)
    result = evaluate(checkpoint, "test", mir1k_root, workers=2, max_clips=2, progress=False)
    result.save(tmp_path / "eval")
    summary = result.summary()
    assert summary["clips_scored"] == 2 == len(pd.read_csv(tmp_path / "eval" / "per_clip.csv"))
    assert np.isfinite(summary["voice_gnsdr"]) and summary["split"] == "test"


def test_stored_scores_are_reused_only_for_the_same_weights_and_options(mir1k_root, tmp_path, monkeypatch):
    """What notebook 05 shows: scores stored beside a model are reused while its weights and the options are the
    same, and scored afresh when either changes (new weights under the same path included)."""
    import shutil
    from dataclasses import replace

    import shsep.evaluate as evaluation
    from shsep.profiles import get_profile
    from shsep.train import train

    first_weights = train(replace(get_profile("smoke"), steps=2), tmp_path / "a", mir1k_root, progress=False)
    other_weights = train(replace(get_profile("smoke"), steps=3), tmp_path / "b", mir1k_root, progress=False)
    model = tmp_path / "model.pt"
    shutil.copy(first_weights, model)
    calls = []
    scored = evaluation.evaluate
    monkeypatch.setattr(evaluation, "evaluate", lambda *args, **kwargs: calls.append(kwargs) or scored(*args, **kwargs))
    options = {"split": "test", "data_root": mir1k_root, "max_clips": 1, "progress": False, "workers": 1}
    store = tmp_path / "eval"
    first = evaluation.stored_or_evaluated(model, store, **options)
    pd.testing.assert_frame_equal(evaluation.stored_or_evaluated(model, store, **options), first, atol=1e-4)
    assert len(calls) == 1  # the same weights and options: read back
    evaluation.stored_or_evaluated(model, store, **options | {"band": "full"})
    assert len(calls) == 2  # another option: scored afresh
    shutil.copy(other_weights, model)
    evaluation.stored_or_evaluated(model, store, **options | {"band": "full"})
    evaluation.stored_or_evaluated(model, store, **options | {"band": "full"})
    assert len(calls) == 3  # new weights under the same path: scored once, then read back


def test_cli_evaluate_reports_a_bad_checkpoint_clearly(tmp_path, capsys):
    from shsep.cli import main

    (tmp_path / "bad.pt").write_bytes(b"nonsense")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "bad.pt"), "--max-clips", "1"]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err


def test_evaluate_runs_the_int8_network_in_the_runtime_asked_for(mir1k_root, capsys, monkeypatch):
    """`shsep evaluate --precision int8 --int8-runtime R`: the network runs in R, and the two runtimes score a
    clip alike; a runtime that is not one is refused by the parser before anything runs."""
    import shsep.networks
    from shsep.cli import main
    from shsep.evaluate import evaluate
    from shsep.paths import SONGS_MODEL

    runtimes = []
    opened = shsep.networks.int8_runtime
    monkeypatch.setattr(shsep.networks, "int8_runtime", lambda requested: runtimes.append(opened(requested)) or
                        runtimes[-1])
    clip = ["abjones_1_01"]
    figures = [evaluate(SONGS_MODEL, clip_ids=clip, data_root=mir1k_root, workers=1, progress=False, windowing="long",
                        precision="int8", int8_runtime=runtime).summary() for runtime in ("onnxruntime", "openvino")]
    assert runtimes == ["onnxruntime", "openvino"]
    for name in ("voice_gnsdr", "accompaniment_gnsdr"):
        assert figures[0][name] == pytest.approx(figures[1][name], abs=0.05)
    with pytest.raises(SystemExit):
        main(["evaluate", "--precision", "int8", "--int8-runtime", "tensorrt", "--max-clips", "1"])
    assert "invalid choice: 'tensorrt'" in capsys.readouterr().err


def test_evaluate_averages_the_models_given_and_records_them(mir1k_root, tmp_path):
    """`shsep evaluate --checkpoint A --checkpoint B`: both models' estimates averaged, both recorded; the pair's
    figure differs from either model's alone."""
    from shsep.cli import main
    from shsep.evaluate import evaluate
    from shsep.paths import SHIPPED_MODEL, SONGS_MODEL

    clip = ["abjones_1_01"]
    alone = [evaluate(model, clip_ids=clip, data_root=mir1k_root, workers=1, progress=False).summary()["voice_gnsdr"]
             for model in (SONGS_MODEL, SHIPPED_MODEL)]
    assert main(["evaluate", "--checkpoint", str(SONGS_MODEL), "--checkpoint", str(SHIPPED_MODEL), "--clips", *clip,
                 "--workers", "1", "--data-root", str(mir1k_root), "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    # recorded relative to the project, without this machine's prefix
    assert summary["checkpoint"] == "lib/shsep/weights/songs.pt + lib/shsep/weights/cpu.pt"
    assert summary["clips_scored"] == 1
    assert all(abs(summary["voice_gnsdr"] - figure) > 0.01 for figure in alone)


def test_full_band_evaluation_scores_the_same_clips_on_the_other_path(mir1k_root, capsys, tmp_path):
    """`shsep evaluate --band full`: the shipped model, two clips; the full-band path keeps the 4-8 kHz band and
    scores above Park's path on them (both rows printed with the path named); the summary records the full-band
    options, the network's own masks (voice gain 1) by default."""
    from shsep.cli import main
    from shsep.evaluate import evaluate

    clips = ["abjones_1_01", "annar_1_01"]
    park = evaluate(clip_ids=clips, data_root=mir1k_root, workers=1, progress=False).summary()
    full = evaluate(clip_ids=clips, data_root=mir1k_root, workers=1, progress=False, band="full").summary()
    assert park["band"] == "park" and full["band"] == "full" and full["clips_scored"] == 2
    assert full["voice_gnsdr"] > park["voice_gnsdr"]
    assert main(["evaluate", "--band", "full", "--clips", *clips, "--workers", "1", "--out", str(tmp_path)]) == 0
    assert "2 clips scored (clips split, fast_bss_eval, full band)" in capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["voice_gain"], summary["high_band"], summary["wiener_iterations"]) == (1.0, "band-ratio", 0)
    assert summary["voice_gnsdr"] == pytest.approx(full["voice_gnsdr"], abs=1e-6)
