"""The network as separation runs it: windows of normalised mixture magnitudes in, source magnitudes out.

Two runtimes behind one call, ``network(windows) -> (accompaniment, voice)``, numpy arrays
(N, 1, bins, frames) → two (N, bins, frames):

* `TorchNetwork`: the checkpoint's PyTorch module, in fp32 or bf16 autocast, on the CPU or a GPU (the reference).
* `OnnxNetwork`: the same network exported to ONNX (`onnx_export`), its convolutions quantised to int8, run on
  the CPU by ONNX Runtime, or by OpenVINO where it is installed and the CPU has AMX (`int8_runtime`). It never
  imports torch (1.2 to 2.6 s of import alone), and its network runs about 1.8× as fast as PyTorch's fp32 on a
  CPU with AVX-512-VNNI (as fast as bf16 there; docs/speed.md).
* `MeanNetwork`: several of those on the same windows, their estimates averaged (an ensemble of models).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

PRECISIONS = ("fp32", "bf16", "int8", "auto")  # int8: `OnnxNetwork`; auto: what `resolve_precision` picks
INT8_RUNTIMES = ("auto", "onnxruntime", "openvino")  # `int8_runtime`
ONNX_SUFFIX = ".int8.onnx"  # beside a checkpoint: lib/shsep/weights/cpu.pt → cpu.int8.onnx


class TorchNetwork:
    """A trained PyTorch module plus its target (`targets.estimate_sources`), on `device`, fp32 or bf16 (precision
    "auto": as `resolve_precision` picks for the device)."""

    def __init__(self, model, target: str, device=None, precision: str = "fp32"):
        import torch

        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.precision = resolve_precision(precision, self.device.type)
        if self.precision == "int8":
            raise ValueError("int8 runs the ONNX export of a checkpoint: use Separator.from_checkpoint")
        # channels-last runs the convolutions about 1.3x faster on CPU (same results to 1e-5)
        self.model = model.eval().to(self.device, memory_format=torch.channels_last)
        self.target = target

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
    """An exported network (`onnx_export.export_int8`) run on the CPU by ONNX Runtime or OpenVINO (`int8_runtime`).

    Its metadata carries what separation needs from the checkpoint: the target, the front end, the precision.
    """

    device = "cpu"

    def __init__(self, path: str | os.PathLike, threads: int | None = None, runtime: str = "auto"):
        path = Path(path)
        self.runtime = int8_runtime(runtime)
        if not path.is_file():
            raise ValueError(f"no int8 model at {path}: make one with `shsep export-int8` (see docs/speed.md)")
        threads = threads or torch_like_threads()
        try:
            if self.runtime == "openvino":
                metadata = self._open_openvino(path, threads)
            else:
                metadata = self._open_onnxruntime(path, threads)
        except Exception as error:  # each runtime raises its own types for a damaged or foreign file
            raise ValueError(f"cannot read the int8 model {path} ({type(error).__name__}): make it again with "
                             "`shsep export-int8`") from None
        # ONNX Runtime's memory arena makes a window 1.7x faster than plain allocations but keeps about 300 MB;
        # `shrink_arena` hands it back after each window (about 1.4x slower in all), for the Wiener path, whose
        # own arrays would otherwise take the peak past 1 GiB. OpenVINO has no such arena to hand back.
        self.shrink_arena = False
        self.path = path
        self.target = metadata.get("target", "masks")
        self.front_end = json.loads(metadata.get("front_end", "{}"))
        self.precision = metadata.get("precision", "int8")
        self.source_sha1 = metadata.get("source_sha1")

    def _open_onnxruntime(self, path: Path, threads: int) -> dict:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
        options.enable_mem_pattern = MEMORY_PATTERN
        self.runner = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                                   disabled_optimizers=DISABLED_OPTIMISERS)
        self._shrinking = onnxruntime.RunOptions()
        self._shrinking.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        return dict(self.runner.get_modelmeta().custom_metadata_map)

    def _open_openvino(self, path: Path, threads: int) -> dict:
        import openvino

        self._core = openvino.Core()
        self._graph = self._core.read_model(str(path))
        metadata = {key: self._graph.get_rt_info(["framework", key]).astype(str)
                    for key in ("target", "front_end", "precision", "source_sha1")
                    if self._graph.has_rt_info(["framework", key])}
        # fp32 between the int8 convolutions, as ONNX Runtime computes them (OpenVINO's default on AMX is bf16)
        self._settings = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                          "INFERENCE_PRECISION_HINT": "f32"}
        self._fixed_shape = self._fixed_request = self._free_request = None
        return metadata

    def warm_up(self, shape: tuple) -> None:
        """Start compiling the graph for windows of this shape in a background thread (OpenVINO; ONNX Runtime
        compiles nothing), so that it runs beside decoding and analysis instead of before the first window:
        separation calls it with the first batch's shape as soon as it knows the file's length. It takes the
        place of the first shape seen; a later call does nothing."""
        if self.runtime != "openvino" or self._fixed_shape is not None:
            return
        self._fixed_shape = tuple(shape)
        compiler = ThreadPoolExecutor(1, thread_name_prefix="openvino-compile")
        self._fixed_request = compiler.submit(self._compile_for_shape, self._fixed_shape)  # OpenVINO frees the GIL
        compiler.shutdown(wait=False)

    def _compile_for_shape(self, shape: tuple):
        graph = self._graph.clone()
        graph.reshape(list(shape))
        return self._core.compile_model(graph, "CPU", self._settings).create_infer_request()

    def _openvino_request(self, shape: tuple):
        """The inference request for windows of this shape. The first shape seen (or warmed up) gets the graph
        compiled for that shape alone, which runs a window about 1.5x as fast as the graph of free shape (long
        windows are all one shape but for songs under a window); any other shape gets the graph of free shape,
        compiled when first needed (Park's windows end each clip on a smaller batch)."""
        if self._fixed_shape is None:
            self._fixed_shape = shape
            self._fixed_request = self._compile_for_shape(shape)
        if shape == self._fixed_shape:
            if isinstance(self._fixed_request, Future):  # compiled in the background by `warm_up`
                self._fixed_request = self._fixed_request.result()
            return self._fixed_request
        if self._free_request is None:
            self._free_request = self._core.compile_model(self._graph, "CPU", self._settings).create_infer_request()
        return self._free_request

    def __call__(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        if self.runtime == "openvino":
            request = self._openvino_request(windows.shape)
            request.infer({0: windows})
            # copies: the request reuses its output buffers on the next call
            return request.get_output_tensor(0).data.copy(), request.get_output_tensor(1).data.copy()
        accompaniment, voice = self.runner.run(None, {"mixture": windows},
                                                self._shrinking if self.shrink_arena else None)
        return accompaniment, voice


class MeanNetwork:
    """Several networks run on the same windows, their (accompaniment, voice) estimates averaged: an ensemble of
    models that share a front end. `shsep separate` averages the two shipped models (`paths.SONGS_MODELS`)."""

    def __init__(self, members):
        self.members = list(members)
        if len(self.members) < 2:
            raise ValueError("an ensemble needs at least two networks")
        self.device = self.members[0].device
        self.target = _one_or_all(member.target for member in self.members)
        self.precision = _one_or_all(member.precision for member in self.members)

    @property
    def shrink_arena(self) -> bool:
        return any(getattr(member, "shrink_arena", False) for member in self.members)

    @shrink_arena.setter
    def shrink_arena(self, shrink: bool) -> None:
        for member in self.members:
            if hasattr(member, "shrink_arena"):
                member.shrink_arena = shrink

    def warm_up(self, shape: tuple) -> None:
        for member in self.members:
            if hasattr(member, "warm_up"):
                member.warm_up(shape)

    def __call__(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        accompaniment, voice = self.members[0](windows)
        accompaniment, voice = accompaniment.astype(np.float32), voice.astype(np.float32)  # fresh arrays to add to
        for member in self.members[1:]:
            other_accompaniment, other_voice = member(windows)
            accompaniment += other_accompaniment
            voice += other_voice
        return accompaniment / len(self.members), voice / len(self.members)


def _one_or_all(values) -> str:
    """One value where the members agree, else all of them joined by "+" (e.g. a precision "int8+fp32")."""
    values = list(values)
    return values[0] if len(set(values)) == 1 else "+".join(values)


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


def int8_runtime_available() -> bool:
    """Whether a runtime for the int8 graph (ONNX Runtime or OpenVINO) is installed."""
    from importlib.util import find_spec

    return any(find_spec(name) is not None for name in INT8_RUNTIMES[1:])


def int8_runtime(requested: str = "auto") -> str:
    """Which runtime runs the int8 graph. "auto": OpenVINO where it is installed and the CPU has AMX-INT8 (its
    int8 tiles: there a window ran 2.4x as fast as in ONNX Runtime, with the same GNSDR to 0.002 dB) or AVX2
    without AVX-512 (an AMD EPYC with AVX2 only: the whole command 1.3x as fast, the same GNSDR to 0.01 dB;
    docs/speed.md), else ONNX Runtime: OpenVINO is not measured on CPUs with AVX-512 but no AMX."""
    from importlib.util import find_spec

    from .machine import simd_features

    if requested not in INT8_RUNTIMES:
        raise ValueError(f"the int8 runtime must be one of {INT8_RUNTIMES}, not {requested!r}")
    if requested == "auto":
        installed = {name for name in INT8_RUNTIMES[1:] if find_spec(name) is not None}
        features = set(simd_features())
        measured_faster = "amx_int8" in features or ("avx2" in features and "avx512f" not in features)
        requested = ("openvino" if "openvino" in installed and (measured_faster or "onnxruntime" not in installed)
                     else "onnxruntime")
    if find_spec(requested) is None:
        raise ValueError(f"int8 separation with {requested} needs it installed: pip install {requested} "
                         "(or choose --precision fp32)")
    return requested


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512-BF16 or AMX): there bf16 runs the network about 2× faster,
    elsewhere it is emulated and several times slower."""
    from .machine import simd_features

    return bool({"avx512_bf16", "amx_bf16"} & set(simd_features()))


def resolve_precision(precision: str, device_type: str = "cpu", checkpoint: str | os.PathLike | None = None) -> str:
    """The precision "auto" stands for: on CUDA bf16; on a CPU int8 where the checkpoint has an int8 export
    beside it and a runtime for it is installed (`int8_runtime`), else bf16 where the CPU has native bf16, else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision != "auto":
        return precision
    if device_type == "cuda":
        return "bf16"
    if checkpoint is not None and int8_model_for(checkpoint).is_file() and int8_runtime_available():
        return "int8"
    return "bf16" if native_bf16() else "fp32"
