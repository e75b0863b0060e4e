"""The notebooks' helpers: set-up, paths shown to readers, players, the report's log in English, tidy tables."""
import numpy as np
import pandas as pd
import pytest


def test_setup_prints_no_machine_specific_path(mir1k_root, capsys, monkeypatch):
    from shsep.notebook import setup
    from shsep.paths import OUTPUTS, RUNS

    import shsep.notebook
    from shsep.paths import SHIPPED_RUN

    monkeypatch.setenv("SHSEP_PROFILE", "smoke")
    profile, config, root, run_dir, figures_dir, max_clips = setup(train=True)
    printed = capsys.readouterr().out
    assert profile == "smoke" and max_clips == 6 and run_dir == RUNS / "smoke"
    assert figures_dir == OUTPUTS / "smoke" / "figures"  # never the tracked figures/
    assert "training and" in printed and str(root) not in printed and "/" + "work" not in printed
    assert "run folder runs/smoke; figures to outputs/smoke/figures" in printed
    monkeypatch.setattr(shsep.notebook, "RUNS", OUTPUTS / "no-runs-here")  # nothing trained: the shipped run
    assert setup().run_dir == SHIPPED_RUN and "run folder results/shipped_run;" in capsys.readouterr().out


def test_relative_paths_never_show_the_machine(tmp_path):
    from shsep.notebook import relative
    from shsep.paths import PROJECT_ROOT

    assert relative(PROJECT_ROOT / "results" / "experiments.csv") == "results/experiments.csv"
    assert relative(tmp_path / "elsewhere.csv") == "elsewhere.csv"


def test_records_name_the_projects_files_relative_to_it_and_others_as_given(tmp_path):
    """`paths.project_relative`, how summaries record checkpoints: no machine prefix for the project's files, a
    user's own path kept whole (a record must say where the model came from)."""
    from shsep.paths import PROJECT_ROOT, project_relative

    assert project_relative(PROJECT_ROOT / "lib" / "shsep" / "weights" / "cpu.pt") == "lib/shsep/weights/cpu.pt"
    assert project_relative(tmp_path / "mine.pt") == str(tmp_path / "mine.pt")


def test_audio_player_embeds_a_playable_mp3_at_true_level():
    import base64
    import io

    import soundfile as sf

    from shsep.plots import audio_player

    tone = 0.25 * np.sin(np.linspace(0, 2000, 44100 * 2)).reshape(2, -1).astype(np.float32)
    html = audio_player(tone, 44100, "a tone", seconds=0.5).data
    assert "a tone (44100 Hz, stereo)" in html and 'preload="auto"' in html
    encoded = html.split("base64,")[1].split('"')[0]
    decoded, rate = sf.read(io.BytesIO(base64.b64decode(encoded)))
    assert rate == 44100 and decoded.shape[1] == 2 and abs(len(decoded) - 22050) < 2000
    assert 0.15 < np.abs(decoded).max() < 0.35  # not normalised to full scale


@pytest.mark.parametrize("text, seconds", [("4分34秒", 274.0), ("11分", 660.0), ("32分", 1920.0),
                                           (0.123611, 0.123611 * 86400), ("约2-3小时", np.nan), (np.nan, np.nan)])
def test_report_times_in_seconds(text, seconds):
    from shsep.report import duration_seconds

    assert duration_seconds(text) == pytest.approx(seconds, nan_ok=True)


def test_the_report_log_has_english_notes_beside_the_originals():
    from shsep.report import REPORT_OUTPUTS, read_result_log

    if not (REPORT_OUTPUTS / "result.xlsx").is_file():
        pytest.skip("the report's outputs are not here (set $SHSEP_REPORT_OUTPUTS)")
    log = read_result_log()
    for column in ("change", "observation"):
        originals = log[column].notna()
        assert log.loc[originals, f"{column}_en"].notna().all(), column  # every note translated
        assert not log[f"{column}_en"].dropna().str.contains(r"[\u4e00-\u9fff]").any()
    assert log["train_seconds"].iloc[0] == 274.0 and log["test_seconds"].iloc[6] == 1784.0


def test_score_table_is_tidy():
    from shsep.report import score_table

    row = {f"{s}_{m}": float(i) for i, (s, m) in enumerate((s, m) for s in ("voice", "accompaniment")
                                                            for m in ("sdr", "nsdr", "sir", "sar"))}
    table = score_table({"ours": row, "theirs": row})
    assert list(table.index) == ["ours", "theirs"]
    assert list(table.columns.get_level_values(0).unique()) == ["voice", "accompaniment"]
    assert list(table.columns.get_level_values(1)[:4]) == ["SDR", "NSDR", "SIR", "SAR"]
    assert table.loc["ours", ("accompaniment", "SAR")] == 7.0


def test_the_frontier_keeps_the_runs_no_cheaper_run_beats():
    import numpy as np

    from shsep.plots import frontier

    cost = np.array([1.0, 2.0, 3.0, 2.0, 5.0, 0.5])
    score = np.array([9.0, 8.0, 10.0, 9.5, 9.9, 7.0])
    # 0.5 -> 7.0 and 1 -> 9.0 climb; 2 -> 9.5 beats 9.0 (2 -> 8.0 does not); 3 -> 10.0 climbs; 5 -> 9.9 is beaten
    assert frontier(cost, score).tolist() == [True, False, True, True, False, True]
    assert frontier([1.0, 1.0], [9.0, 9.0]).tolist() == [True, False]  # a tie at equal cost: one label


def test_labels_beside_each_other_are_spread_and_lone_ones_stay():
    import numpy as np

    from shsep.plots import spread_labels

    x = np.array([6.0, 6.1, 6.05, 3.0])  # three points side by side, one far to the left
    y = np.array([10.0, 10.05, 10.02, 10.01])
    heights = spread_labels(x, y, gap=0.2, width=0.9)
    close = np.sort(heights[:3])
    assert np.all(np.diff(close) >= 0.2 - 1e-9) and close[0] == 10.0  # the lowest label stays at its point
    assert heights[3] == 10.01
