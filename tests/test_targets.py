import pytest
import torch

from shsep.targets import estimate_sources, num_outputs, reference_sources, stack_losses

MIX = torch.full((1, 1, 4, 3), 2.0)


def test_masks_give_both_sources():
    prediction = torch.stack([torch.full((4, 3), 0.25), torch.full((4, 3), -1.0)])[None]
    accompaniment, voice = estimate_sources(prediction, MIX, "masks")
    assert torch.all(accompaniment == 0.5) and torch.all(voice == 0)  # negative mask clipped at 0


@pytest.mark.parametrize("target, expected", [("voice", (1.5, 0.5)), ("accompaniment", (0.5, 1.5))])
def test_one_mask_and_subtraction(target, expected):
    accompaniment, voice = estimate_sources(torch.full((1, 1, 4, 3), 0.25), MIX, target)
    assert float(accompaniment.mean()) == expected[0] and float(voice.mean()) == expected[1]


def test_direct_prediction_is_the_magnitude():
    prediction = torch.full((1, 2, 4, 3), 0.7)
    accompaniment, _ = estimate_sources(prediction, MIX, "direct")
    assert torch.allclose(accompaniment, torch.full((1, 4, 3), 0.7))


def test_loss_sums_stacks_and_targets_the_predicted_sources():
    accompaniment, voice = torch.ones(1, 4, 3), torch.zeros(1, 4, 3)
    assert reference_sources(accompaniment, voice, "voice").shape == (1, 1, 4, 3)
    perfect = torch.stack([torch.full((4, 3), 0.5), torch.zeros(4, 3)])[None]
    wrong = torch.zeros(1, 2, 4, 3)
    losses = stack_losses([wrong, perfect], MIX, accompaniment, voice, "masks")
    assert float(losses[1]) == 0 and float(losses[0]) == pytest.approx(0.5)


def test_unknown_target_is_refused():
    with pytest.raises(ValueError, match="target must be one of"):
        num_outputs("stems")


def test_ratio_masks_are_a_softmax_that_splits_the_stems_sum():
    logits = torch.stack([torch.full((4, 3), 3.0), torch.full((4, 3), -1.0)])[None]  # negative logit: not clipped
    accompaniment, voice = estimate_sources(logits, MIX, "ratio")
    assert torch.allclose(accompaniment + voice, 2 * MIX[:, 0])  # the mixture is the mean of the two stems
    assert torch.allclose(voice, 2 * MIX[:, 0] * torch.sigmoid(torch.tensor(-4.0)))
    stem = torch.full((1, 4, 3), 2.0)  # two equal stems whose mean is MIX
    assert float(stack_losses([torch.zeros(1, 2, 4, 3)], MIX, stem, stem, "ratio")[0]) == 0


def test_abs_ratio_masks_split_the_stems_sum_by_output_magnitude():
    outputs = torch.stack([torch.full((4, 3), 3.0), torch.full((4, 3), -1.0)])[None]  # the sign does not matter
    accompaniment, voice = estimate_sources(outputs, MIX, "abs-ratio")
    assert torch.allclose(accompaniment + voice, 2 * MIX[:, 0])
    assert torch.allclose(voice, 2 * MIX[:, 0] * 0.25)
    big = torch.stack([torch.full((4, 3), 300.0), torch.full((4, 3), -100.0)])[None].requires_grad_()
    stem = torch.full((1, 4, 3), 2.0)
    stack_losses([big], MIX, stem, stem, "abs-ratio")[0].backward()
    assert float(big.grad.abs().max()) > 1e-4  # no saturation: large outputs still learn


def test_log_l1_compares_compressed_magnitudes():
    accompaniment, voice = torch.ones(1, 4, 3), torch.zeros(1, 4, 3)
    perfect = torch.stack([torch.full((4, 3), 0.5), torch.zeros(4, 3)])[None]
    half = torch.stack([torch.full((4, 3), 0.25), torch.zeros(4, 3)])[None]
    l1, log_l1 = (stack_losses([half], MIX, accompaniment, voice, "masks", loss)[0] for loss in ("l1", "log-l1"))
    assert float(l1) == pytest.approx(0.25)  # |0.5 - 1| over two outputs
    assert float(log_l1) == pytest.approx((torch.log1p(torch.tensor(100.0)) - torch.log1p(torch.tensor(50.0))) / 2)
    assert float(stack_losses([perfect], MIX, accompaniment, voice, "masks", "log-l1")[0]) == 0
    with pytest.raises(ValueError, match="loss must be one of"):
        stack_losses([perfect], MIX, accompaniment, voice, "masks", "l2")
