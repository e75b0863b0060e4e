"""What a run ran on: the CPU's model, its cores and SIMD features (bf16 and int8 support decide speed), or the GPU.

Every timing and every logged run records this, because our machines vary (AMD EPYC with AVX2 only, Zen 4
with AVX-512-BF16, Intel Xeon with AMX) and the fastest precision differs between them.
"""
from __future__ import annotations

import os
import platform

# the features that decide which kernels oneDNN can use
SIMD_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def _cpuinfo_field(name: str) -> str | None:
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith(name))
    except (OSError, StopIteration):
        return None


# AMD's CPU families by core generation: a cloud machine's model name is often just "AMD EPYC"
AMD_FAMILIES = {23: "Zen 1/2", 25: "Zen 3/4", 26: "Zen 5"}


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one) and its core count; a name without a model
    number ("AMD EPYC") gets the CPU family and model, and for AMD the core generation (Zen 5: family 26)."""
    name = _cpuinfo_field("model name") or platform.processor() or platform.machine()
    family, model = _cpuinfo_field("cpu family"), _cpuinfo_field("model")
    if family and model and not any(character.isdigit() for character in name):
        generation = AMD_FAMILIES.get(int(family)) if "AMD" in name and family.isdigit() else None
        name += f" ({generation + ', ' if generation else ''}family {family}, model {model})"
    return f"{name}, {os.cpu_count()} cores"


def simd_features() -> list[str]:
    """The SIMD features of SIMD_FEATURES this CPU reports (empty where /proc/cpuinfo is missing)."""
    flags = set((_cpuinfo_field("flags") or "").split())
    return [f for f in SIMD_FEATURES if f in flags]


def describe_machine(device=None) -> str:
    """One line for logs: the GPU's name, or the CPU model, cores, torch threads and SIMD features."""
    import torch

    if device is not None and torch.device(device).type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"{cpu_model()}, {torch.get_num_threads()} threads, {' '.join(simd_features()) or 'no AVX2'}"
