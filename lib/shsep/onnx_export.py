"""The int8 model: a checkpoint exported to ONNX and its convolutions quantised, for `networks.OnnxNetwork`.

`export_int8(checkpoint)` writes ``<checkpoint>.int8.onnx`` beside it (the shipped one:
``lib/shsep/weights/cpu.int8.onnx``). The graph holds the whole network and its target's mapping to source
magnitudes (`targets.estimate_sources`), with the frame axis dynamic. Quantisation is ONNX Runtime's static
QDQ scheme: weights int8 per output channel in 7 bits of range (AVX2's u8×s8 dot products cannot saturate),
activations uint8 with 99.999-percentile ranges calibrated on MIR-1K *training* clips (the validation songs
left out, so that the int8 model's figures on them are a fair check); `nodes_kept_float` and the operators
outside `QUANTISED_OPS` stay float; the upsamplings read their target size from the int8 tensors
(`read_shapes_before_dequantising`). The measurements behind each choice: docs/speed.md.
Needs torch, onnx and onnxruntime; separating with the result needs only onnxruntime.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .networks import file_sha1, int8_model_for
from .paths import atomic_path

CALIBRATION_CLIPS = 48  # spread over the training clips, the validation songs excluded
CALIBRATION_METHOD = "Percentile"
# Quantised: the convolutions with their ReLUs, and the pooling and resizing between them (exact on int8);
# the residual sums and the target's mapping stay float.
QUANTISED_OPS = ("Conv", "Relu", "MaxPool", "Resize")


def nodes_kept_float(model) -> list[str]:
    """The nodes kept in float: the target's mapping after the network, the first convolution (it reads
    magnitudes spanning many decades, which 8 bits would flatten) and the convolutions into or out of the few
    mask channels (the heads and their links: little compute)."""
    shapes = {tensor.name: tuple(tensor.dims) for tensor in model.graph.initializer}
    kept, first_convolution = [], True
    for node in model.graph.node:
        if not node.name.startswith("/network/"):  # the target's mapping of the last prediction
            kept.append(node.name)
        elif node.op_type == "Conv":
            weight = shapes.get(node.input[1], (0, 0))
            # the first reads the mixture (or its compressed magnitudes, `ModelConfig.input_power`)
            if first_convolution or min(weight[:2]) <= 2:
                kept.append(node.name)
            first_convolution = False
    return kept


def read_shapes_before_dequantising(model) -> int:
    """Point every `Shape` that reads a dequantised tensor at the int8 tensor instead; returns how many.

    The size-matched upsampling (`F.interpolate(size=skip.shape)`) reads the skip's shape. After quantisation that
    `Shape` reads the skip's float copy, so ONNX Runtime dequantises (and transposes out of its int8 layout) a
    whole activation only to learn its size: 16 of the 21 dequantisations of its optimised graph. Both tensors
    have one shape, so the output is unchanged, bit for bit; the dequantisations left without readers are dropped."""
    producers = {output: node for node in model.graph.node for output in node.output}
    rewired = 0
    for node in model.graph.node:
        source = producers.get(node.input[0]) if node.op_type == "Shape" else None
        if source is not None and source.op_type == "DequantizeLinear":
            node.input[0] = source.input[0]
            rewired += 1
    read = {name for node in model.graph.node for name in node.input} | {out.name for out in model.graph.output}
    unread = [node for node in model.graph.node
              if node.op_type == "DequantizeLinear" and not any(name in read for name in node.output)]
    for node in unread:
        model.graph.node.remove(node)
    return rewired


def export_float_onnx(checkpoint: str | os.PathLike, destination: str | os.PathLike) -> dict:
    """The checkpoint's network plus its target's mapping as a float32 ONNX graph; returns its metadata."""
    import torch

    from .checkpoints import load_model
    from .spectrogram import FrontEnd
    from .targets import estimate_sources

    model, config = load_model(checkpoint, "cpu")
    target = config.get("target", "masks")

    class WindowsToSources(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.network = model

        def forward(self, mixture):
            return estimate_sources(self.network(mixture)[-1], mixture, target)

    example = torch.rand(1, 1, 512, 64)
    frames = {0: "windows", 3: "frames"}
    torch.onnx.export(WindowsToSources().eval(), (example,), str(destination), input_names=["mixture"],
                      output_names=["accompaniment", "voice"], opset_version=17, dynamo=False,
                      dynamic_axes={"mixture": frames, "accompaniment": {0: "windows", 2: "frames"},
                                    "voice": {0: "windows", 2: "frames"}})
    front_end = FrontEnd(**config.get("front_end", {}))
    return {"target": target, "front_end": json.dumps(asdict(front_end)), "source_sha1": file_sha1(checkpoint)}


def calibration_windows(front_end, data_root=None, count: int = CALIBRATION_CLIPS, crop: int | None = None) -> list[np.ndarray]:
    """Normalised mixture magnitudes of `count` training clips (validation songs excluded), as separation
    feeds them: (1, 1, bins, frames), divided by the clip's maximum."""
    from .data import index_clips, load_sources, split_validation
    from .profiles import VALIDATION_SONGS

    training, _ = split_validation(index_clips(data_root, "train"), VALIDATION_SONGS)
    chosen = [training[i] for i in np.linspace(0, len(training) - 1, min(count, len(training))).astype(int)]
    windows = []
    for clip in chosen:
        magnitude = np.abs(front_end.analyse(load_sources(clip, front_end.sample_rate).mixture))
        window = (magnitude / max(float(magnitude.max()), 1e-12)).astype(np.float32)[None, None]
        windows.append(window if crop is None else window[..., :crop])
    return windows


def export_int8(checkpoint: str | os.PathLike, destination: str | os.PathLike | None = None, data_root=None,
                calibration_clips: int = CALIBRATION_CLIPS, method: str = CALIBRATION_METHOD, op_types=QUANTISED_OPS,
                exclude=None) -> Path:
    """Export `checkpoint` to ONNX, quantise it to int8 with calibration on training clips, write it atomically.

    method: ONNX Runtime's calibration (Percentile: 99.999 % of each activation's range; MinMax; Entropy);
    op_types: the operators quantised; exclude: node names kept in float (default: `nodes_kept_float`)."""
    try:
        import onnx
    except ImportError:
        raise ValueError("export-int8 needs the onnx package: pip install onnx (or pip install -e '.[export]')") from None
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from .spectrogram import FrontEnd

    destination = Path(destination or int8_model_for(checkpoint))
    with tempfile.TemporaryDirectory() as scratch:
        float_path, prepared = Path(scratch) / "float.onnx", Path(scratch) / "prepared.onnx"
        metadata = export_float_onnx(checkpoint, float_path)
        quant_pre_process(str(float_path), str(prepared))
        if exclude is None:
            exclude = nodes_kept_float(onnx.load(str(prepared)))
        windows = calibration_windows(FrontEnd(**json.loads(metadata["front_end"])), data_root, calibration_clips,
                                      crop=None if method == "MinMax" else 64)  # the others stack equal shapes

        class Windows(CalibrationDataReader):
            def __init__(self):
                self.remaining = iter({"mixture": w} for w in windows)

            def get_next(self):
                return next(self.remaining, None)

        quantised = Path(scratch) / "int8.onnx"
        quantize_static(str(prepared), str(quantised), Windows(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        reduce_range=True, calibrate_method=getattr(CalibrationMethod, method),
                        op_types_to_quantize=list(op_types),
                        nodes_to_exclude=list(exclude))
        model = onnx.load(str(quantised))
        read_shapes_before_dequantising(model)
        metadata |= {"precision": "int8", "calibration": f"{len(windows)} training clips, {method}"}
        for key, value in metadata.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, str(value)
        with atomic_path(destination) as temporary:
            onnx.save(model, str(temporary))
    return destination
