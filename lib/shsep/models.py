"""Stacked hourglass networks: Park's graph (`StackedHourglass`) and the 2019 report's (`ReportHourglass`).

Both take a batch of normalised mixture magnitudes (B, 1, bins, frames) and return one
prediction (B, outputs, bins, frames) per stack; the training loss supervises all of them,
separation uses the last. Output channel order follows Park: 0 = accompaniment, 1 = voice.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

ARCHITECTURES = ("park", "report")
HEADS = (None, "linear", "bn-relu")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a network; stored in every checkpoint.

    architecture: 'park' (Park's TensorFlow graph) or 'report' (the 2019 report's PyTorch net).
    channels: features at full resolution (256 in both papers); Park's stem widths scale with it
      (channels/4, /2, /2, /2, 1×: 64, 128, 128, 128, 256 at 256 channels).
    growth: channels added per pooling level (0 = Park's constant width, 64 = the report's).
    depth: recursion depth of each hourglass (4: four poolings in Park's graph, five in the report's).
    outputs: prediction channels (2: both sources; 1: one source, the other by subtraction).
    head: the prediction layer after each stack. None: the architecture's own (Park: a linear 1×1
      convolution; the report: a 3×3 convolution with BatchNorm and ReLU). 'linear' or 'bn-relu'
      swaps one for the other (the direct-prediction ablation).
    input_power: the network reads its input magnitudes raised to this power (1: as they are, Park's; 0.5: their
      square roots, which narrows their range of decades). Only what the network sees changes: the masks still
      multiply the mixture's magnitudes as they are, and the loss compares magnitudes.
    dense_frequency_bins: 0 (Park's): convolutions only. > 0: after every pooling in each hourglass, a residual
      fully connected layer across frequency (`DenseAcrossFrequency`), built for patches of this many bins (the
      front end's); a 'park' network only.
    dense_full_resolution: with dense_frequency_bins, each hourglass's output, at full resolution, also passes one
      (`DenseAcrossFrequency` of all the bins); False: the pooled levels only.
    """

    architecture: str = "park"
    channels: int = 256
    stacks: int = 4
    depth: int = 4
    growth: int = 0
    outputs: int = 2
    head: str | None = None
    input_power: float = 1.0
    dense_frequency_bins: int = 0
    dense_full_resolution: bool = False

    def __post_init__(self):
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, not {self.head!r}")
        if not 0 < self.input_power <= 1:
            raise ValueError(f"input_power must be in (0, 1], not {self.input_power!r}")
        if self.dense_frequency_bins and (self.dense_frequency_bins < 2 ** self.depth or self.architecture != "park"):
            raise ValueError(f"dense_frequency_bins must be 0 or the 'park' network's input bins (at least "
                             f"{2 ** self.depth} for depth {self.depth}), not {self.dense_frequency_bins!r}")
        if self.dense_full_resolution and not self.dense_frequency_bins:
            raise ValueError("dense_full_resolution needs the dense layers at the pooled levels (dense_frequency_bins)")

    def to_dict(self) -> dict:
        return asdict(self)


def compress_input(mixture: torch.Tensor, power: float) -> torch.Tensor:
    """What the network reads: the magnitudes raised to `power` (`ModelConfig.input_power`); as they are at 1."""
    return mixture if power == 1 else mixture.clamp_min(0).pow(power)


def _pool(x: torch.Tensor) -> torch.Tensor:
    """2×2 max-pool, stride 2, TensorFlow 'SAME' padding (odd sizes round up)."""
    return F.max_pool2d(x, kernel_size=2, stride=2, ceil_mode=True)


def _upsample_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour resize of x to like's spatial size."""
    return F.interpolate(x, size=like.shape[-2:], mode="nearest")


class _ConvReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__(nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.ReLU(inplace=True))


class DenseAcrossFrequency(nn.Module):
    """x + ReLU(W2 ReLU(W1 x)) along the frequency axis, the same weights for every channel and frame: bins →
    bins / 16 (at least 8) → bins. One layer lets every cell read the whole band (a voice's harmonics span hundreds
    of bins), which 3×3 convolutions reach only through the pooled levels. The TDF block of Choi et al.,
    "Investigating U-Nets with various intermediate blocks for spectrogram-based singing voice separation" (2020).

    in_place: contract the bins where they lie in a channels-last tensor (one large matrix product after a copy)
    rather than nn.Linear on x.transpose(-1, -2); the same arithmetic, measured 2.6× faster at full resolution
    (24 channels, 512 × 64 cells, bf16, forward and backward) and slower at the pooled levels, where it is off.
    """

    def __init__(self, bins: int, bottleneck: int = 16, in_place: bool = False):
        super().__init__()
        self.squeeze = nn.Linear(bins, max(bins // bottleneck, 8))
        self.expand = nn.Linear(self.squeeze.out_features, bins)
        self.in_place = in_place

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.in_place:
            across = x.transpose(-1, -2)  # (batch, channels, frames, bins)
            return x + F.relu(self.expand(F.relu(self.squeeze(across)))).transpose(-1, -2)
        cells = x.permute(0, 2, 3, 1)  # (batch, bins, frames, channels): a channels-last tensor's memory order
        hidden = F.relu(torch.einsum("kf,bftc->bktc", self.squeeze.weight, cells) + self.squeeze.bias[:, None, None])
        out = F.relu(torch.einsum("fk,bktc->bftc", self.expand.weight, hidden) + self.expand.bias[:, None, None])
        return x + out.permute(0, 3, 1, 2)


class ParkHourglass(nn.Module):
    """Park's recursive hourglass: up1 + resize(low3(hg_or_low2(low1(pool(x))))); every conv 3×3 + ReLU.

    dense_bins > 0, the bins of this level's input: the pooled branch, low3's output, also passes a
    `DenseAcrossFrequency` for its bins (half, rounding up), at every level; 0: Park's. dense_output:
    the hourglass's output, at dense_bins, passes one too (the top level of a network with
    `ModelConfig.dense_full_resolution`).
    """

    def __init__(self, depth: int, channels: int, growth: int = 0, dense_bins: int = 0, dense_output: bool = False):
        super().__init__()
        inner = channels + growth
        low_bins = -(-dense_bins // 2)
        self.up1 = _ConvReLU(channels, channels)
        self.low1 = _ConvReLU(channels, inner)
        self.low2 = ParkHourglass(depth - 1, inner, growth, low_bins) if depth > 1 else _ConvReLU(inner, inner)
        self.low3 = _ConvReLU(inner, channels)
        self.dense = DenseAcrossFrequency(low_bins) if dense_bins else None
        self.dense_output = DenseAcrossFrequency(dense_bins, in_place=True) if dense_output else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low3(self.low2(self.low1(_pool(x))))
        if self.dense is not None:
            low = self.dense(low)
        up = self.up1(x)
        out = up + _upsample_to(low, up)
        return out if self.dense_output is None else self.dense_output(out)


class StackedHourglass(nn.Module):
    """Park et al.'s network, layer for layer (34,176,776 parameters at 256 channels, 4 stacks, depth 4)."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        if config.architecture != "park":
            raise ValueError("StackedHourglass builds the 'park' architecture; use build_model()")
        c = config.channels
        if c % 4:
            raise ValueError(f"channels must be a multiple of 4, got {c}")
        self.config = config
        self.stem = nn.Sequential(
            _ConvReLU(1, c // 4, 7), _ConvReLU(c // 4, c // 2), _ConvReLU(c // 2, c // 2),
            _ConvReLU(c // 2, c // 2), _ConvReLU(c // 2, c),
        )
        self.hourglasses = nn.ModuleList(ParkHourglass(config.depth, c, config.growth, config.dense_frequency_bins,
                                                       config.dense_full_resolution) for _ in range(config.stacks))
        self.features = nn.ModuleList(
            nn.Sequential(_ConvReLU(c, c, 3), _ConvReLU(c, c, 1)) for _ in range(config.stacks))
        self.heads = nn.ModuleList(_prediction_head(c, config.outputs, config.head or "linear", 1)
                                   for _ in range(config.stacks))
        self.feature_links = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(config.stacks - 1))
        self.prediction_links = nn.ModuleList(nn.Conv2d(config.outputs, c, 1) for _ in range(config.stacks - 1))

    def forward(self, mixture: torch.Tensor) -> list[torch.Tensor]:
        bins = self.config.dense_frequency_bins
        if bins and not torch.jit.is_tracing() and mixture.shape[-2] != bins:
            raise ValueError(f"this network was built for patches of {bins} bins, not {mixture.shape[-2]}")
        inter = self.stem(compress_input(mixture, self.config.input_power))
        predictions = []
        for i in range(self.config.stacks):
            features = self.features[i](self.hourglasses[i](inter))
            prediction = self.heads[i](features)
            predictions.append(prediction)
            if i < self.config.stacks - 1:
                inter = inter + self.feature_links[i](features) + self.prediction_links[i](prediction)
        return predictions


class _ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__(nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ReportHourglassBlock(nn.Module):
    """The report's hourglass: Conv(c,c)(x) + up(Conv(n,c)(inner(Conv(c,n)(pool(x))))), n = c + growth."""

    def __init__(self, depth: int, channels: int, growth: int):
        super().__init__()
        inner = channels + growth
        self.skip = _ConvBNReLU(channels, channels)
        self.down = _ConvBNReLU(channels, inner)
        self.inner = ReportHourglassBlock(depth - 1, inner, growth) if depth > 0 else _ConvBNReLU(inner, inner)
        self.up = _ConvBNReLU(inner, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(x)
        return skip + _upsample_to(self.up(self.inner(self.down(_pool(x)))), skip)


class ReportHourglass(nn.Module):
    """The 2019 report's network (BatchNorm everywhere, depth+1 poolings, ReLU on the mask head).

    34,689,752 parameters at 64 channels growing by 64 ("ours"); 42,752,792 at 256 channels, no growth
    (its re-implementation of Park's).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.architecture != "report":
            raise ValueError("ReportHourglass builds the 'report' architecture; use build_model()")
        c = config.channels
        self.config = config
        self.stem = nn.Sequential(_ConvBNReLU(1, 64, 7), _ConvBNReLU(64, 128), _ConvBNReLU(128, 128),
                                  _ConvBNReLU(128, c))
        self.hourglasses = nn.ModuleList(
            ReportHourglassBlock(config.depth, c, config.growth) for _ in range(config.stacks))
        self.features = nn.ModuleList(
            nn.Sequential(_ConvBNReLU(c, c), _ConvBNReLU(c, c, 1)) for _ in range(config.stacks))
        self.heads = nn.ModuleList(_prediction_head(c, config.outputs, config.head or "bn-relu", 3)
                                   for _ in range(config.stacks))
        self.prediction_links = nn.ModuleList(_ConvBNReLU(config.outputs, c) for _ in range(config.stacks - 1))
        self.feature_links = nn.ModuleList(_ConvBNReLU(c, c) for _ in range(config.stacks - 1))

    def forward(self, mixture: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(compress_input(mixture, self.config.input_power))
        predictions = []
        for i in range(self.config.stacks):
            features = self.features[i](self.hourglasses[i](x))
            prediction = self.heads[i](features)
            predictions.append(prediction)
            if i < self.config.stacks - 1:
                x = self.prediction_links[i](prediction) + self.feature_links[i](features)
        return predictions


def _prediction_head(channels: int, outputs: int, kind: str, kernel: int) -> nn.Module:
    """'linear': a plain convolution (Park's); 'bn-relu': convolution, BatchNorm, ReLU (the report's)."""
    if kind == "bn-relu":
        return _ConvBNReLU(channels, outputs, kernel)
    return nn.Conv2d(channels, outputs, kernel, padding=kernel // 2)


def build_model(config: ModelConfig) -> nn.Module:
    if config.architecture == "park":
        return StackedHourglass(config)
    if config.architecture == "report":
        return ReportHourglass(config)
    raise ValueError(f"unknown architecture {config.architecture!r}; choose one of {ARCHITECTURES}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def flops_per_patch(config: ModelConfig, bins: int = 512, frames: int = 64) -> int:
    """Floating-point operations of one forward pass on one patch (counted on the meta device: no compute)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = build_model(config)
        x = torch.empty(1, 1, bins, frames)
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    return int(counter.get_total_flops())


def receptive_field(config: ModelConfig, size: tuple[int, int] = (4096, 8)) -> int:
    """Width, in bins (and equally in frames: every kernel and pooling is square), of the input that one
    output cell of the last stack depends on. It exceeds the 512×64 patch: at the borders the network sees padding.

    Measured, not derived: the gradient of the centre output with respect to the input, on a copy with
    4 channels (the receptive field depends only on the topology) whose weights are all positive and
    averaging (1 / fan-in), in float64, so that no ReLU hides a path and no signal underflows.
    """
    if config.dense_frequency_bins:
        raise ValueError("a network with dense layers across frequency reads the whole band: its receptive field "
                         "in bins is the patch's")
    small = build_model(replace(config, channels=4, growth=min(config.growth, 4))).double().eval()
    with torch.no_grad():
        for module in small.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.fill_(1.0 / module.weight[0].numel())
                module.bias.fill_(0.01)
    x = torch.zeros(1, 1, *size, dtype=torch.float64, requires_grad=True)
    out = small(x + 1.0)[-1]
    out[0, 0, size[0] // 2, size[1] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    return int(rows.max() - rows.min() + 1)


def receptive_field_text(config: ModelConfig) -> str:
    """The receptive field as "bins × frames": square for convolutions alone; with dense layers across frequency,
    every bin of the patch × the frames the convolutions reach (the dense layers act within each frame)."""
    frames = receptive_field(replace(config, dense_frequency_bins=0, dense_full_resolution=False))
    bins = f"all {config.dense_frequency_bins}" if config.dense_frequency_bins else str(frames)
    return f"{bins} × {frames}"


def trace_shapes(module: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape) of every convolution a forward pass runs through, in order."""
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: shapes.append((name, tuple(o.shape))))
             for name, m in module.named_modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            module(x)
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


def head_relu_input(head: nn.Module) -> nn.Module | None:
    """The layer whose output a 'bn-relu' prediction head's ReLU takes (its BatchNorm); None for a linear head.

    For probes that watch whether a head's ReLU still lets anything through (see `probes`)."""
    return head[1] if isinstance(head, _ConvBNReLU) else None
