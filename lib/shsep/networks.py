"""The network as separation runs it: windows of normalised mixture magnitudes in, source magnitudes out.

Two runtimes behind one call, ``network(windows) -> (accompaniment, voice)``, numpy arrays
(N, 1, bins, frames) → two (N, bins, frames):

* `TorchNetwork`: the checkpoint's PyTorch module, in fp32 or bf16 autocast, on the CPU or a GPU (the reference).
* `OnnxNetwork`: the same network exported to ONNX (`onnx_export`), its convolutions quantised to int8, run by
  ONNX Runtime on the CPU. It never imports torch (1.2 to 2.6 s of import alone), and its network runs about
  1.8× as fast as PyTorch's fp32 on a CPU with AVX-512-VNNI (as fast as bf16 there; docs/speed.md).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

PRECISIONS = ("fp32", "bf16", "int8", "auto")  # int8: `OnnxNetwork`; auto: what `resolve_precision` picks
ONNX_SUFFIX = ".int8.onnx"  # beside a checkpoint: lib/shsep/weights/cpu.pt → cpu.int8.onnx


class TorchNetwork:
    """A trained PyTorch module plus its target (`targets.estimate_sources`), on `device`, fp32 or bf16."""

    def __init__(self, model, target: str, device=None, precision: str = "fp32"):
        import torch

        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        # channels-last runs the convolutions about 1.3x faster on CPU (same results to 1e-5)
        self.model = model.eval().to(self.device, memory_format=torch.channels_last)
        self.target = target
        self.precision = precision

    def __call__(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        from .targets import estimate_sources

        x = torch.from_numpy(windows).to(self.device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16,
                                                     enabled=self.precision == "bf16"):
            prediction = self.model(x)[-1]
            accompaniment, voice = estimate_sources(prediction.float(), x, self.target)
        return accompaniment.cpu().numpy(), voice.cpu().numpy()


# ONNX Runtime's NCHWc rewrite of the few float convolutions (the first one, the mask heads and their links)
# wraps each in layout reorders that cost more than they save on this small network; without it a window is
# about 10 % faster, and its output the same up to flipped int8 roundings (45-49 dB SNR between the two for
# the shipped model, far below the int8 model's own error; docs/speed.md).
DISABLED_OPTIMISERS = ["NchwcTransformer"]
# ONNX Runtime's memory pattern (one block planned for all of a window's tensors) stays off: about 100 MiB less at
# the default's peak, and no slower (docs/speed.md).
MEMORY_PATTERN = False


class OnnxNetwork:
    """An exported network (`onnx_export.export_int8`) run by ONNX Runtime on the CPU.

    Its metadata carries what separation needs from the checkpoint: the target, the front end, the precision.
    """

    device = "cpu"

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        try:
            import onnxruntime
        except ImportError:
            raise ValueError("int8 separation needs ONNX Runtime: pip install onnxruntime "
                             "(or choose --precision fp32)") from None
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"no int8 model at {path}: make one with `shsep export-int8` (see docs/speed.md)")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch_like_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
        options.enable_mem_pattern = MEMORY_PATTERN
        try:
            self.runner = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                                       disabled_optimizers=DISABLED_OPTIMISERS)
        except Exception as error:  # onnxruntime raises its own types for a damaged or foreign file
            raise ValueError(f"cannot read the int8 model {path} ({type(error).__name__}): make it again with "
                             "`shsep export-int8`") from None
        # ONNX Runtime's memory arena makes a window 1.7x faster than plain allocations but keeps about 300 MB;
        # `shrink_arena` hands it back after each window (about 1.4x slower in all), for the Wiener path, whose
        # own arrays would otherwise take the peak past 1 GiB.
        self.shrink_arena = False
        self._shrinking = onnxruntime.RunOptions()
        self._shrinking.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        metadata = self.runner.get_modelmeta().custom_metadata_map
        self.path = path
        self.target = metadata.get("target", "masks")
        self.front_end = json.loads(metadata.get("front_end", "{}"))
        self.precision = metadata.get("precision", "int8")
        self.source_sha1 = metadata.get("source_sha1")

    def __call__(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        accompaniment, voice = self.runner.run(None, {"mixture": np.ascontiguousarray(windows, dtype=np.float32)},
                                                self._shrinking if self.shrink_arena else None)
        return accompaniment, voice


def torch_like_threads() -> int:
    """The thread count torch uses: its own setting where it is already imported (evaluation's workers set one
    each), else $OMP_NUM_THREADS, else the cores this process may run on."""
    if "torch" in sys.modules and sys.modules["torch"] is not None:
        return sys.modules["torch"].get_num_threads()
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def int8_model_for(checkpoint: str | os.PathLike) -> Path:
    """Where the int8 export of a checkpoint lives: beside it, `<name>.int8.onnx`."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ONNX_SUFFIX)


def file_sha1(path: str | os.PathLike) -> str:
    """The sha1 of a file's bytes: an int8 export records its checkpoint's, so a stale export is noticed."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def onnxruntime_available() -> bool:
    from importlib.util import find_spec

    return find_spec("onnxruntime") is not None


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512-BF16 or AMX): there bf16 runs the network about 2× faster,
    elsewhere it is emulated and several times slower."""
    from .machine import simd_features

    return bool({"avx512_bf16", "amx_bf16"} & set(simd_features()))


def resolve_precision(precision: str, device_type: str = "cpu", checkpoint: str | os.PathLike | None = None) -> str:
    """The precision "auto" stands for: on CUDA bf16; on a CPU int8 where the checkpoint has an int8 export
    beside it and ONNX Runtime is installed, else bf16 where the CPU has native bf16, else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision != "auto":
        return precision
    if device_type == "cuda":
        return "bf16"
    if checkpoint is not None and int8_model_for(checkpoint).is_file() and onnxruntime_available():
        return "int8"
    return "bf16" if native_bf16() else "fp32"
