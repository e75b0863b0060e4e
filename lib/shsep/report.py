"""The 2019 report's material, read where it lies: its experiment log and its separations of `annar_4`.

Location: ``$SHSEP_REPORT_OUTPUTS``, else ``../shared/data/report_outputs`` beside the project.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .data import DataError
from .evaluate import join_clips, read_estimate, score_joined
from .paths import SHARED

REPORT_OUTPUTS = Path(os.environ.get("SHSEP_REPORT_OUTPUTS", SHARED / "data" / "report_outputs"))
ANNAR_4 = [f"annar_4_{i:02d}" for i in range(1, 10)]
_COLUMNS = ["change", "observation", "stacks", "channels", "growth", "outputs", "parameters", "iterations",
            "learning_rate", "gpu", "train_time", "test_clips", "test_time", "voice_gnsdr", "voice_gsir", "voice_gsar",
            "accompaniment_gnsdr", "accompaniment_gsir", "accompaniment_gsar"]


def _folder(folder=None) -> Path:
    folder = Path(folder or REPORT_OUTPUTS)
    if not folder.is_dir():
        raise DataError(f"the report's outputs are not at {folder}; set $SHSEP_REPORT_OUTPUTS to their folder")
    return folder


# English for the log's Chinese notes (translated by hand; the originals are kept beside them).
ENGLISH = {
    "测试时每次喂4个+改用museval的bss_eval": "test with 4 windows per pass + museval's bss_eval",
    "测试速度显著提升": "testing much faster",
    "各项指标均有所提升，而人声的GSIR实际上也是往正常的方向发展，原先过高":
        "every metric improved; the voice GSIR, too high before, moved towards normal",
    "GSIR迅速上升，其他变化不大": "GSIR rose quickly, little else changed",
    "各项指标均有上升": "every metric rose",
    "和3层差别不大，还有上升的空间": "little different from 3 stacks; room to improve",
    "测试数据集大了各项指标会下降，其他超参可能也会有这种情况":
        "on a larger test set every metric drops; other settings may behave the same",
    "应该是不如递增的效果的": "probably worse than growing channels",
    "只预测伴奏遮罩": "predict the accompaniment mask only",
    "伴奏效果还不错，但是一减就把没预测号的全部归到人声那边了，效果特别差":
        "accompaniment fairly good, but subtracting puts everything it missed into the voice: very poor",
    "只预测人声遮罩": "predict the voice mask only",
    "伴奏效果很差，人声也很差": "accompaniment very poor, voice poor too",
    "预测end-to-end，直接预测人声而不是人声相对原混合音频的遮罩":
        "end to end: predict the voice itself, not its mask on the mixture",
    "网络输出全为0，无法训练": "the network outputs all zeros; cannot be trained",
    "加大训练轮数和减小学习率": "more iterations, lower learning rate",
    "效果最好，说不定可以增加迭代次数，直到loss不再下降": "the best so far; maybe iterate until the loss stops falling",
    "效果无明显提升，说明接近饱和": "no clear gain: close to saturation",
    "在服务器上跑的": "run on the server",
    "效果不如上面这一组": "worse than the run above",
    "和论文模型一样": "the same as the paper's model",
    "Paper中给出的数据": "the figures given in the paper",
    "修改训练数据的选取方式（改为均匀采样），学习率改为0.01": "uniform sampling of training windows; learning rate 0.01",
}


def duration_seconds(value) -> float:
    """A time from the log in seconds: "4分34秒" (min, s), "32分", an Excel fraction of a day; NaN for a range
    such as "约2-3小时" (about 2-3 hours) or an empty cell."""
    import re

    if isinstance(value, (int, float)) and not pd.isna(value):
        return float(value) * 86400
    match = re.fullmatch(r"(?:(\d+)分)?(?:(\d+)秒)?", str(value).strip())
    if match and any(match.groups()):
        minutes, seconds = (int(g or 0) for g in match.groups())
        return float(minutes * 60 + seconds)
    return float("nan")


def read_result_log(folder=None) -> pd.DataFrame:
    """The report's experiment log (result.xlsx) with English column names; its Chinese notes stay, with an English
    translation beside each (`change_en`, `observation_en`), and its times in seconds (`train_seconds`,
    `test_seconds`; the raw text stays in `train_time`, `test_time`)."""
    raw = pd.read_excel(_folder(folder) / "result.xlsx", header=None, skiprows=2)
    raw.columns = _COLUMNS[: raw.shape[1]]
    log = raw.dropna(how="all").copy()
    for column in ("change", "observation"):
        log.insert(log.columns.get_loc(column) + 1, f"{column}_en", log[column].map(ENGLISH))
    for column in ("train", "test"):
        log.insert(log.columns.get_loc(f"{column}_time") + 1, f"{column}_seconds",
                   log[f"{column}_time"].map(duration_seconds))
    return log


def annar_4_comparison(separator, data_root=None, folder=None, evaluator: str = "fast_bss_eval"):
    """Score our separation of annar_4 (clips 01-09 joined) beside the report's 'ours' and 'paper' files.

    Returns (a tidy table: one row per system, columns (source, metric) for SDR / NSDR / SIR / SAR in dB,
    {system: Stems(accompaniment, voice)} waveforms at 16 kHz). Ours goes through Park's path, like the report's.
    """
    from .separate import Stems

    folder = _folder(folder)
    stereo = join_clips(ANNAR_4, data_root)
    stems = {"shsep": separator.separate(stereo.mean(axis=0), 16000)}
    for name in ("ours", "paper"):
        stems[f"report {name}"] = Stems(read_estimate(folder / f"annar_4_accompaniments_predict_{name}.flac"),
                                        read_estimate(folder / f"annar_4_voice_predict_{name}.flac"))
    rows = {name: score_joined(stereo, s.voice, s.accompaniment, evaluator) for name, s in stems.items()}
    return score_table(rows), stems


def score_table(rows: dict[str, dict]) -> pd.DataFrame:
    """Per-system score rows (as `score_estimates` gives them) as a tidy table: rows systems, columns (source, metric)."""
    metrics = {"sdr": "SDR", "nsdr": "NSDR", "sir": "SIR", "sar": "SAR"}
    columns = pd.MultiIndex.from_tuples([(source, label) for source in ("voice", "accompaniment")
                                         for label in metrics.values()], names=["source", "dB"])
    values = [[row[f"{source}_{metric}"] for source in ("voice", "accompaniment") for metric in metrics]
              for row in rows.values()]
    return pd.DataFrame(values, index=pd.Index(list(rows), name="system"), columns=columns)


# The report's runs that bear on each ablation question: {question: {label: row of result.xlsx}}.
# All 1000-iteration rows used learning rate 0.1 and 100 test clips; rows 12-18 are 15000+ steps on 825.
REPORT_RUNS = {
    "stacks": {"1 stack (64 +64)": 3, "2 stacks (64 +64)": 2, "3 stacks (64 +64)": 4, "4 stacks (64 +64)": 5},
    "channels": {"4 stacks, 64 constant (2.96 M)": 7, "4 stacks, 64 +64 (34.7 M)": 5,
                 "15k steps, 64 +64 (34.7 M, 825 clips)": 14, "15k steps, Park-like 256 constant (42.8 M, 825 clips)": 15},
    "targets": {"both masks, 1 stack": 3, "voice mask only, 1 stack": 10, "accompaniment mask only, 1 stack": 9},
    "direct": {"direct prediction, 1 stack": 11},
    "samplers": {"clip-then-start, 15k steps, lr 0.01 (825 clips)": 12, "uniform, 15k steps, lr 0.001 (its note says 0.01; 825 clips)": 17},
    "evaluators": {"mir_eval, 1 window per pass": 0, "museval, 4 windows per pass": 1},
}


def report_runs(question: str, folder=None) -> pd.DataFrame:
    """The report's log rows for one ablation question, labelled."""
    log = read_result_log(folder)
    rows = [log.loc[index].to_dict() | {"label": label} for label, index in REPORT_RUNS[question].items()]
    return pd.DataFrame(rows)
