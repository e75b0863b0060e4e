import pytest
import torch

from shsep.models import ModelConfig, ReportHourglass, StackedHourglass, build_model, count_parameters
from shsep.targets import stack_losses


@pytest.mark.parametrize("config, expected", [
    (ModelConfig("park", channels=256, stacks=4, depth=4, growth=0), 34_176_776),    # Park's TF graph
    (ModelConfig("report", channels=64, stacks=4, depth=4, growth=64), 34_689_752),  # the report's "ours"
    (ModelConfig("report", channels=256, stacks=4, depth=4, growth=0), 42_752_792),  # the report's "paper"
])
def test_parameter_counts_match_the_papers(config, expected):
    assert count_parameters(build_model(config)) == expected


def test_park_stem_and_hourglass_sizes():
    model = StackedHourglass(ModelConfig())
    assert count_parameters(model.stem) == 667_392
    assert count_parameters(model.hourglasses[0]) == 7_671_040


@pytest.mark.parametrize("architecture", ["park", "report"])
@pytest.mark.parametrize("stacks", [1, 2, 4])
def test_one_prediction_per_stack(architecture, stacks):
    model = build_model(ModelConfig(architecture, channels=8, stacks=stacks, depth=3, growth=4, outputs=1))
    out = model(torch.rand(2, 1, 512, 64))
    assert len(out) == stacks and all(p.shape == (2, 1, 512, 64) for p in out)


def test_odd_sizes_follow_same_padding():
    model = build_model(ModelConfig("park", channels=8, stacks=1, depth=4))
    assert model(torch.rand(1, 1, 100, 37))[0].shape == (1, 2, 100, 37)


def test_growth_widens_park_graph_only_below_full_resolution():
    flat = build_model(ModelConfig("park", channels=32, stacks=1, growth=0))
    grown = build_model(ModelConfig("park", channels=32, stacks=1, growth=32))
    assert count_parameters(grown.stem) == count_parameters(flat.stem)
    assert count_parameters(grown) > count_parameters(flat)
    assert grown.hourglasses[0].low1[0].out_channels == 64


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model(ModelConfig("unet"))


@pytest.mark.parametrize("architecture", ["park", "report"])
def test_overfits_one_real_batch(train_set, architecture):
    """Four real training windows, their lowest 128 bins (the network takes any size): the loss halves."""
    torch.manual_seed(0)
    mixture, accompaniment, voice = (t[..., :128, :] for t in train_set.batch([(0, 10), (50, 20), (100, 5), (174, 0)]))
    model = build_model(ModelConfig(architecture, channels=16, stacks=2, depth=3, growth=8))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        loss = sum(stack_losses(model(mixture), mixture, accompaniment, voice, "masks"))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if losses[-1] < 0.5 * losses[0]:
            break
    assert losses[-1] < 0.5 * losses[0], losses[::10]


def test_input_power_feeds_the_network_compressed_magnitudes():
    """`input_power` changes what the network reads, nothing else: the same weights on the square roots."""
    torch.manual_seed(0)
    plain = build_model(ModelConfig("park", channels=8, stacks=2, depth=2))
    rooted = build_model(ModelConfig("park", channels=8, stacks=2, depth=2, input_power=0.5))
    rooted.load_state_dict(plain.state_dict())
    x = torch.rand(2, 1, 32, 16) ** 4
    with torch.no_grad():
        same = (rooted(x)[-1] - plain(x.sqrt())[-1]).abs().max()
        different = (rooted(x)[-1] - plain(x)[-1]).abs().max()
    assert same < 1e-6 < different / 100
    for power in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="input_power must be in"):
            ModelConfig(input_power=power)


def test_a_checkpoint_written_before_input_power_reads_as_power_one():
    from dataclasses import asdict

    recorded = asdict(ModelConfig("park", channels=8))
    del recorded["input_power"]
    assert ModelConfig(**recorded).input_power == 1.0


def test_dense_layers_across_frequency_let_every_bin_read_the_whole_band():
    """`dense_frequency_bins`: the lowest output bin depends on the highest input bins, far past the reach of the
    convolutions alone; the layers add few parameters, and patches of another height are a clear error."""
    torch.manual_seed(0)
    bins = 256

    def reach(config):
        model = build_model(config)
        x = torch.rand(1, 1, bins, 8, requires_grad=True)
        model(x)[-1][0, :, :2].sum().backward()  # the two lowest output bins
        return x.grad[0, 0, bins // 2:].abs().sum()  # their dependence on the upper half of the input

    plain = ModelConfig("park", channels=8, stacks=2, depth=2)
    dense = ModelConfig("park", channels=8, stacks=2, depth=2, dense_frequency_bins=bins)
    assert reach(plain) == 0 < reach(dense)
    shipped_shape = ModelConfig("park", channels=24, stacks=2, depth=4, growth=24)
    shipped_parameters = count_parameters(build_model(shipped_shape))
    added = (count_parameters(build_model(ModelConfig(**{**shipped_shape.to_dict(), "dense_frequency_bins": 512})))
             - shipped_parameters)
    assert 0 < added < 0.02 * shipped_parameters
    with pytest.raises(ValueError, match="built for patches of 256 bins, not 128"):
        build_model(dense)(torch.rand(1, 1, 128, 8))
    with pytest.raises(ValueError, match="dense_frequency_bins must be"):
        ModelConfig("report", dense_frequency_bins=512)
    from shsep.models import receptive_field, receptive_field_text

    with pytest.raises(ValueError, match="whole band"):
        receptive_field(dense)
    frames = receptive_field(plain)
    assert receptive_field_text(plain) == f"{frames} × {frames}" and receptive_field_text(dense) == f"all 256 × {frames}"


def test_a_dense_layer_at_full_resolution_is_one_more_per_hourglass_and_contracts_in_place_exactly():
    """`dense_full_resolution`: each hourglass's output passes a `DenseAcrossFrequency` of all the bins; its
    in-place contraction (the channels-last path) computes what nn.Linear on the transposed tensor does, in either
    memory layout, gradients included; it needs the pooled levels' layers."""
    from shsep.models import DenseAcrossFrequency

    torch.manual_seed(0)
    layer = DenseAcrossFrequency(64).double()
    fast = DenseAcrossFrequency(64, in_place=True).double()
    fast.load_state_dict(layer.state_dict())
    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(2, 6, 64, 5, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_()
        expected, got = layer(x), fast(x)
        assert torch.allclose(got, expected, atol=1e-12)
        (gx_expected,) = torch.autograd.grad(expected.square().sum(), x)
        (gx_got,) = torch.autograd.grad(got.square().sum(), x)
        assert torch.allclose(gx_got, gx_expected, atol=1e-10)
    pooled = ModelConfig("park", channels=8, stacks=2, depth=2, dense_frequency_bins=64)
    full = ModelConfig(**{**pooled.to_dict(), "dense_full_resolution": True})
    added = count_parameters(build_model(full)) - count_parameters(build_model(pooled))
    assert added == pooled.stacks * count_parameters(DenseAcrossFrequency(64))
    assert build_model(full)(torch.rand(1, 1, 64, 8))[-1].shape == (1, 2, 64, 8)
    with pytest.raises(ValueError, match="needs the dense layers at the pooled levels"):
        ModelConfig("park", dense_full_resolution=True)
    recorded = pooled.to_dict()
    del recorded["dense_full_resolution"]  # a checkpoint from before the option: pooled levels only
    assert ModelConfig(**recorded).dense_full_resolution is False
