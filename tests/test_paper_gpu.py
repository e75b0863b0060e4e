"""scripts/paper_gpu.py, the paper's networks on a GPU: packed in parts, received, trained within a time limit,
resumed, scored and logged, through the same code a lent GPU runs. On a machine with CUDA the `paper` profile runs
at full size (one step); elsewhere a tiny network stands in."""
import importlib.util
import json
import shutil

import pandas as pd
import pytest
import torch

from shsep.data import index_clips
from shsep.paths import PROJECT_ROOT

spec = importlib.util.spec_from_file_location("paper_gpu", PROJECT_ROOT / "scripts" / "paper_gpu.py")
paper_gpu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(paper_gpu)

pytestmark = [pytest.mark.mir1k, pytest.mark.slow]


@pytest.fixture(scope="module")
def small_mir1k(mir1k_root, tmp_path_factory):
    """A MIR-1K folder with 3 training clips and 2 test clips, as the official layout has them."""
    root = tmp_path_factory.mktemp("data") / "MIR-1K"
    (root / "Wavfile").mkdir(parents=True)
    for clip in index_clips(mir1k_root, "train")[:3] + index_clips(mir1k_root, "test")[:2]:
        shutil.copyfile(clip.path, root / "Wavfile" / clip.path.name)
    return root


def test_packed_in_parts_received_trained_scored_and_logged(small_mir1k, tmp_path, capsys, monkeypatch):
    carried = tmp_path / "carried"
    monkeypatch.setattr(paper_gpu, "_tracked_bytes", lambda: 0)
    monkeypatch.setattr(paper_gpu, "MARGIN_MIB", 0)
    paper_gpu.pack(carried, upload_mib=0.3, wheels=False, data=small_mir1k)  # small parts: the test clips split
    manifest = json.loads((carried / "manifest.json").read_text())
    assert manifest["training_clips"] == 3 and sum(manifest["test_parts"]) == 2 and len(manifest["test_parts"]) == 2
    packed = index_clips(carried / "train" / "MIR-1K", "train")
    assert {c.sample_rate for c in packed} == {8000}  # Park's rate: half the bytes to carry
    store = tmp_path / "store"
    paper_gpu.receive(carried, store)
    assert len(index_clips(store / "MIR-1K", "all")) == 5

    out = tmp_path / "out"
    result = paper_gpu.run("paper", store / "MIR-1K", tmp_path / "runs", out, float("inf"), {}, tiny=True,
                           device="cpu")
    assert result["finished"] and result["steps"] == 4 and result["clips_scored"] == 2
    assert "2 clips scored" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "log.csv", "per_clip.csv", "result.json",
                                                     "run.json", "summary.json"]
    row = paper_gpu.collect(out, log_path=tmp_path / "experiments.csv")
    logged = pd.read_csv(tmp_path / "experiments.csv")
    assert list(logged["arm"]) == ["paper-tiny"] and logged["clips_scored"].iloc[0] == 2
    assert row["voice_gnsdr"] == pytest.approx(result["voice_gnsdr"]) and logged["gpu"].iloc[0] == "CPU (no GPU)"


def test_a_time_limit_stops_at_a_checkpoint_and_the_same_command_resumes(small_mir1k, tmp_path, capsys):
    runs, out = tmp_path / "runs", tmp_path / "out"
    stopped = paper_gpu.run("paper", small_mir1k, runs, out, paper_gpu.EVALUATION_RESERVE, {}, tiny=True, device="cpu")
    assert not stopped["finished"] and stopped["steps"] == 1 and "resumes it" in capsys.readouterr().out
    assert not (out / "per_clip.csv").exists()
    with pytest.raises(SystemExit, match="resume it before logging it"):
        paper_gpu.collect(out, log_path=tmp_path / "experiments.csv")
    finished = paper_gpu.run("paper", small_mir1k, runs, out, float("inf"), {}, tiny=True, device="cpu")
    assert finished["finished"] and finished["steps"] == 4
    assert list(pd.read_csv(out / "log.csv")["step"]) == [1, 2, 3, 4]  # resumed, not restarted


def test_the_paper_profiles_code_path(small_mir1k, tmp_path):
    """The `paper` profile end to end: at full size (34 M parameters, one step) where CUDA is, tiny elsewhere."""
    on_gpu = torch.cuda.is_available()
    result = paper_gpu.run("paper", small_mir1k, tmp_path / "runs", tmp_path / "out", float("inf"), {"steps": 1},
                           tiny=not on_gpu, device="cuda" if on_gpu else "cpu")
    assert result["finished"] and result["clips_scored"] == 2
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["model"]["channels"] == (256 if on_gpu else 8)
