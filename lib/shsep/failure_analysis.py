"""Where separation fails, measured with MIR-1K's own frame labels (notebook 08).

MIR-1K labels every clip in frames of 40 ms every 20 ms (320 samples at 16 kHz): `vocal-nonvocalLabel/<id>.vocal`
(1 where someone sings) and `PitchLabel/<id>.pv` (the sung pitch in semitones, 0 where there is none).
`alignment_scan` finds where frame 0 is centred by matching the labels against the voice stem's energy.
`analyse_clip` separates one clip (Park's protocol), scores it with BSS-eval, and measures its errors frame by
frame on the labels' grid, beside the ideal-ratio-mask ceiling of the same path; `remix` sets the clip's
voice-to-accompaniment ratio. Frame figures are energy ratios (signal to error, no BSS-eval projection: 40 ms
is too short for its 512-tap filters; each estimate at its best-fitting scale over the clip), pooled over
frames by summing energies.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import Clip, DataError, Sources, read_frame_labels
from .metrics import score_estimates

LABEL_HOP = 320     # 20 ms at 16 kHz
LABEL_WINDOW = 640  # 40 ms
LABEL_OFFSET = 320  # the centre of frame 0 in samples (20 ms), where `alignment_scan` peaks over the present clips
SNR_LEVELS = (-5.0, 0.0, 5.0)  # voice-to-accompaniment ratios of the remixes (dB); MIR-1K's own mixtures are 0 dB
TINY = 1e-12


@dataclass
class FrameLabels:
    vocal: np.ndarray  # bool per frame
    pitch: np.ndarray  # semitones per frame, 0 = no pitch


def read_labels(clip: Clip) -> FrameLabels:
    """A clip's vocal/non-vocal and pitch labels, on one grid of frames (a clear DataError where one is missing)."""
    missing = [f"{folder}/{clip.id}.{ext}" for folder, ext, path in
               (("vocal-nonvocalLabel", "vocal", clip.vocal_label), ("PitchLabel", "pv", clip.pitch_label))
               if path is None]
    if missing:
        raise DataError(f"{clip.id} has no {' and no '.join(missing)}: the labels lie beside Wavfile/ in the official "
                        "MIR-1K download")
    vocal, pitch = read_frame_labels(clip.vocal_label), read_frame_labels(clip.pitch_label)
    if abs(len(vocal) - len(pitch)) > 1:
        raise DataError(f"{clip.id}: {len(vocal)} vocal labels but {len(pitch)} pitch labels")
    frames = min(len(vocal), len(pitch))
    return FrameLabels(vocal[:frames] > 0.5, pitch[:frames].astype(float))


def frame_energy(signal: np.ndarray, frames: int, offset: int = LABEL_OFFSET, window: int = LABEL_WINDOW) -> np.ndarray:
    """Energy of `signal` in each label frame: `window` samples centred at offset + k · LABEL_HOP."""
    signal = np.asarray(signal, dtype=np.float64)
    padded = np.pad(signal ** 2, (window, window + frames * LABEL_HOP))
    cumulative = np.concatenate([[0.0], np.cumsum(padded)])
    starts = window + offset - window // 2 + np.arange(frames) * LABEL_HOP
    return cumulative[starts + window] - cumulative[starts]


def alignment_scan(voices: list[np.ndarray], labels: list[FrameLabels], offsets) -> pd.DataFrame:
    """For each offset (samples): the correlation, pooled over clips, between the vocal label and the voice stem's
    log energy in the 20 ms around each frame's centre (the frames' overlapping halves would blur the peak). The
    labels' true offset is where it peaks."""
    rows = []
    for offset in offsets:
        energy = np.concatenate([np.log10(frame_energy(v, len(lab.vocal), offset, LABEL_HOP) + TINY)
                                 for v, lab in zip(voices, labels)])
        vocal = np.concatenate([lab.vocal for lab in labels]).astype(float)
        rows.append({"offset_samples": int(offset), "offset_ms": 1000 * offset / 16000,
                     "correlation": float(np.corrcoef(vocal, energy)[0, 1])})
    return pd.DataFrame(rows)


def remix(sources: Sources, snr_db: float) -> Sources:
    """The clip's stems mixed again with the voice scaled to snr_db voice-to-accompaniment energy (mixture: their
    mean, as MIR-1K's)."""
    gain = np.sqrt(np.sum(sources.accompaniment ** 2) / max(np.sum(sources.voice ** 2), TINY) * 10 ** (snr_db / 10))
    voice = (sources.voice * gain).astype(np.float32)
    return Sources((sources.accompaniment + voice) / 2, sources.accompaniment, voice, sources.sample_rate)


def ideal_ratio_mask_estimates(sources: Sources, front_end) -> tuple[np.ndarray, np.ndarray]:
    """The ceiling of masking on Park's path: |V| / (|V| + |A|) of the true stems at 8 kHz on the mixture's STFT,
    back to the clip's rate (accompaniment, voice)."""
    from .spectrogram import resample

    rate, low_rate = sources.sample_rate, front_end.sample_rate
    mixture, accompaniment, voice = (resample(x, rate, low_rate) for x in
                                     (sources.mixture, sources.accompaniment, sources.voice))
    spec, a, v = (front_end.analyse(x) for x in (mixture, accompaniment, voice))
    mask = np.abs(v) / (np.abs(v) + np.abs(a) + TINY)
    out = [resample(front_end.synthesise(m * spec, length=len(mixture)), low_rate, rate) for m in (1 - mask, mask)]
    return tuple(np.pad(x, (0, max(0, len(sources.mixture) - len(x))))[: len(sources.mixture)] for x in out)


def fitted(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """The estimate at the scale that fits the reference best over the clip (least squares), so that frame errors
    do not depend on the scale a target or a mask produces (BSS-eval ignores it too)."""
    estimate = np.asarray(estimate, dtype=np.float64)
    return estimate * (np.dot(reference, estimate) / max(np.dot(estimate, estimate), TINY))


def frame_table(sources: Sources, accompaniment: np.ndarray, voice: np.ndarray, labels: FrameLabels,
                offset: int = LABEL_OFFSET) -> pd.DataFrame:
    """Per label frame: the labels, and the energies of the references, the estimates (each at its best-fitting
    scale, `fitted`) and their errors."""
    n = len(labels.vocal)
    accompaniment, voice = fitted(sources.accompaniment, accompaniment), fitted(sources.voice, voice)
    energy = {"mixture": sources.mixture, "voice_ref": sources.voice, "voice_est": voice,
              "voice_err": sources.voice - voice, "accompaniment_ref": sources.accompaniment,
              "accompaniment_est": accompaniment, "accompaniment_err": sources.accompaniment - accompaniment}
    table = pd.DataFrame({name: frame_energy(x, n, offset) for name, x in energy.items()})
    table.insert(0, "vocal", labels.vocal)
    table.insert(1, "pitch", labels.pitch)
    return table


def analyse_clip(separator, clip: Clip, sources: Sources, snr_db: float | None = None, frames: bool = True,
                 offset: int = LABEL_OFFSET) -> tuple[dict, pd.DataFrame | None]:
    """Separate one clip (remixed at snr_db if given) on Park's path and score it: (row, frame table with the
    model's and the ideal ratio mask's errors, or None). The row holds the BSS-eval figures and the clip's traits."""
    if snr_db is not None:
        sources = remix(sources, snr_db)
    references = np.stack([sources.accompaniment, sources.voice])
    accompaniment, voice = separator.separate(sources.mixture, sources.sample_rate)
    row = {"clip": clip.id, "singer": clip.singer, "snr_db": 0.0 if snr_db is None else snr_db}
    row |= score_estimates(references, np.stack([accompaniment, voice]), sources.mixture, cache=snr_db is None)
    if not frames:
        return row, None
    labels = read_labels(clip)
    table = frame_table(sources, accompaniment, voice, labels, offset)
    ideal = frame_table(sources, *ideal_ratio_mask_estimates(sources, separator.front_end), labels, offset)
    for name in ("voice_est", "voice_err", "accompaniment_est", "accompaniment_err"):
        table[f"ideal_{name}"] = ideal[name]
    table.insert(0, "clip", clip.id)
    table.insert(1, "singer", clip.singer)
    sung = labels.pitch[labels.pitch > 0]
    row |= {"vocal_share": float(labels.vocal.mean()), "median_pitch": float(np.median(sung)) if len(sung) else np.nan,
            "pitch_range": float(np.ptp(sung)) if len(sung) else np.nan,
            "accompaniment_over_voice_db": ratio_db(table.loc[table.vocal, "accompaniment_ref"].sum(),
                                                    table.loc[table.vocal, "voice_ref"].sum())}
    return row, table


def ratio_db(numerator: float, denominator: float) -> float:
    return float(10 * np.log10((numerator + TINY) / (denominator + TINY)))
