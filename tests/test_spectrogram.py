import numpy as np

from shsep.data import get_clip, load_sources
from shsep.spectrogram import PARK, clip_spectrogram, resample


def snr_db(reference, estimate):
    return 10 * np.log10(np.sum(reference ** 2) / np.sum((reference - estimate) ** 2))


def test_front_end_shapes_and_normalisation(mir1k_root):
    sources = load_sources(get_clip("amy_4_01", mir1k_root), 8000)
    spec = clip_spectrogram(sources.mixture, sources.accompaniment, sources.voice)
    assert spec.mixture.shape == (512, PARK.num_frames(len(sources.mixture)))
    assert spec.mixture.max() == 1.0 and spec.scale > 0


def test_stft_round_trip_reconstructs_a_real_clip(mir1k_root):
    sources = load_sources(get_clip("annar_1_01", mir1k_root))
    low = resample(sources.mixture, 16000, 8000)
    back = PARK.synthesise(PARK.analyse(low), length=len(low))
    # The dropped top bin (4 kHz, Nyquist) holds almost nothing after soxr's anti-aliasing.
    assert snr_db(low, back) > 60
    quirk = PARK.synthesise(PARK.analyse(low), length=len(low), park_istft_quirk=True)
    assert snr_db(low, quirk) < snr_db(low, back)  # Park's n_fft=1022 inverse is measurably worse


def test_numpy_stft_and_istft_match_torch():
    """The STFT pair is numpy's (no torch import when separating); torch.stft/istft are the reference."""
    import torch

    from shsep.masking import native_grid

    rng = np.random.default_rng(0)
    for front_end, samples in ((PARK, 8000 * 7 + 123), (native_grid(44100), 44100 * 3 + 17), (PARK, 300)):
        signals = rng.standard_normal((2, samples)).astype(np.float32)
        ours = front_end.analyse(signals)
        window = torch.hann_window(front_end.n_fft)
        theirs = torch.stft(torch.from_numpy(signals), front_end.n_fft, front_end.hop_length, window=window,
                            center=True, pad_mode="constant", return_complex=True)[:, : front_end.num_bins].numpy()
        assert ours.shape == theirs.shape and ours.dtype == np.complex64
        assert np.abs(ours - theirs).max() < 1e-5 * np.abs(theirs).max()
        back = front_end.synthesise(ours, length=samples)
        assert back.shape == signals.shape and back.dtype == np.float32
        if front_end.num_bins == front_end.n_fft // 2 + 1:  # every bin kept: it inverts exactly
            assert np.abs(back - signals).max() < 1e-5
        if samples > front_end.n_fft:
            full = np.zeros((2, front_end.n_fft // 2 + 1, ours.shape[-1]), np.complex64)
            full[:, : front_end.num_bins] = ours
            reference = torch.istft(torch.from_numpy(full), front_end.n_fft, front_end.hop_length, window=window,
                                    center=True, length=samples).numpy()
            assert np.abs(back - reference).max() < 1e-5
