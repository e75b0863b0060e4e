import numpy as np
import pytest
import torch

from shsep.data import index_clips
from shsep.dataset import TrainingBatches
from shsep.resolution_loss import MultiResolutionLoss, resynthesise
from shsep.spectrogram import PARK


def _stems(seed: int, frames: int = 64) -> torch.Tensor:
    """(1, 2, 512, frames) complex stems: the front end's STFT of two noise signals."""
    rng = np.random.default_rng(seed)
    signals = rng.standard_normal((2, PARK.hop_length * (frames + 8))).astype(np.float32)
    return torch.from_numpy(PARK.analyse(signals)[..., 4: 4 + frames].copy())[None]


def test_resynthesis_matches_the_front_ends_inverse_stft():
    spectrogram = _stems(0)[0, 0]
    wave = resynthesise(spectrogram, PARK).numpy()
    np.testing.assert_allclose(wave, PARK.synthesise(spectrogram.numpy()), atol=1e-5)
    assert wave.shape == (PARK.hop_length * 63,)


def test_the_loss_is_zero_for_exact_estimates_and_grows_with_the_error():
    mixture = _stems(1).sum(dim=1, keepdim=True) / 2
    in_phase = torch.cat([0.4 * mixture, 1.6 * mixture], dim=1)  # stems with the mixture's phase: masks recover them
    loss = MultiResolutionLoss(in_phase, PARK)
    assert float(loss.loss(in_phase.abs())) < 1e-5
    small, large = float(loss.loss(1.1 * in_phase.abs())), float(loss.loss(1.5 * in_phase.abs()))
    assert 0 < small < large
    # on the front end's scale: a 10 % error costs about a tenth of the mean magnitude at every resolution
    assert small == pytest.approx(0.1 * float(in_phase.abs().mean()), rel=0.5)


def test_stems_out_of_phase_with_the_mixture_cost_even_perfect_magnitudes():
    """The mixture's phase is what separation uses: magnitudes alone cannot reach stems of another phase."""
    stems = _stems(2)
    estimates = stems.abs().requires_grad_()
    value = MultiResolutionLoss(stems, PARK).loss(estimates)
    assert float(value.detach()) > 0.1 * float(stems.abs().mean())
    value.backward()
    assert estimates.grad is not None and torch.isfinite(estimates.grad).all() and estimates.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="differ in shape"):
        MultiResolutionLoss(stems, PARK).loss(estimates[:, :1])


@pytest.fixture(scope="module")
def few_clips(mir1k_root):
    return index_clips(mir1k_root, "train")[:3]


def test_training_batches_give_the_complex_stems_of_their_magnitudes(few_clips):
    batches = TrainingBatches(few_clips, PARK, "uniform", seed=3, remix=0.5, progress=False)
    mixture, accompaniment, voice, stems = batches.batch(2, 4, with_phase=True)
    assert stems.dtype == torch.complex64 and stems.shape == (4, 2) + accompaniment.shape[1:]
    torch.testing.assert_close(stems.abs(), torch.stack([accompaniment, voice], dim=1), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close((stems.sum(dim=1, keepdim=True) / 2).abs(), mixture, atol=1e-6, rtol=1e-5)
    for got, plain in zip((mixture, accompaniment, voice), batches.batch(2, 4)):  # the magnitudes as without phase
        torch.testing.assert_close(got, plain, atol=0, rtol=0)
    with pytest.raises(ValueError, match="remix pipeline"):
        TrainingBatches(few_clips, PARK, "uniform", seed=3, progress=False).batch(0, 2, with_phase=True)
