"""What machine a number was measured on: :func:`machine_info`.

The demo records it in ``results.json`` and every benchmark prints it next to its table, so that a
speed or memory figure says which CPU, how many cores, which torch build and which GPU produced it.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["BF16_CPU_FLAGS", "MachineInfo", "cpu_has_bf16", "machine_info"]

# CPU flags that decide whether bf16 autocast is fast on the CPU (oneDNN uses them when present).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile")


@dataclass(frozen=True)
class MachineInfo:
    """The machine and the torch build a measurement ran on.

    ``memory_gib`` is the total RAM (``None`` when the OS does not say); ``torch_build`` is
    ``"CUDA 12.4"``, ``"ROCm 6.2"`` or ``"CPU-only"``; ``cpu_capability`` is the vector instruction
    set torch's CPU kernels use (``AVX2``, ``AVX512``, ...); ``bf16_cpu_flags`` the flags of
    :data:`BF16_CPU_FLAGS` the CPU has; ``cuda_device`` the name of GPU 0 (``None`` without one).
    ``str(info)`` is one line for a log or a results table.
    """

    cpu: str
    logical_cores: int
    memory_gib: float | None
    os: str
    python: str
    torch: str
    torch_build: str
    torch_threads: int
    cpu_capability: str
    bf16_cpu_flags: tuple[str, ...]
    cuda_device: str | None
    cuda_device_count: int

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain JSON-ready values (the flags as a list)."""
        fields = asdict(self)
        fields["bf16_cpu_flags"] = list(self.bf16_cpu_flags)
        return fields

    def __str__(self) -> str:
        memory = f"{self.memory_gib:.1f} GiB RAM" if self.memory_gib is not None else "RAM unknown"
        gpu = "no GPU"
        if self.cuda_device is not None:
            count = f" (x{self.cuda_device_count})" if self.cuda_device_count > 1 else ""
            gpu = f"GPU {self.cuda_device}{count}"
        flags = ", ".join(self.bf16_cpu_flags) or "none"
        return (
            f"{self.cpu}, {self.logical_cores} logical cores, {memory}, {gpu}; {self.os}; "
            f"Python {self.python}, torch {self.torch} ({self.torch_build} build, {self.torch_threads} threads, "
            f"CPU capability {self.cpu_capability}, oneDNN bf16 flags: {flags})"
        )


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> tuple[str | None, set[str]]:
    """The CPU model name and flags from ``/proc/cpuinfo`` (Linux; ``None`` and no flags elsewhere)."""
    try:
        text = path.read_text()
    except OSError:
        return None, set()
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if model is None and key in ("model name", "Model", "Hardware"):  # x86; ARM boards
            model = value.strip() or None
        elif not flags and key in ("flags", "Features"):  # x86; ARM
            flags = set(value.split())
        if model is not None and flags:
            break
    return model, flags


def _memory_gib() -> float | None:
    """Total physical memory in GiB from ``sysconf`` (Linux, macOS); ``None`` where unavailable."""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return round(pages * page_size / 2**30, 1)


def _torch_build() -> str:
    if torch.version.cuda:
        return f"CUDA {torch.version.cuda}"
    if getattr(torch.version, "hip", None):
        return f"ROCm {torch.version.hip}"
    return "CPU-only"


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool | None:
    """Whether the CPU has bf16 instructions, which bf16 autocast needs to be fast on the CPU.

    True with one of :data:`BF16_CPU_FLAGS` (x86) or ARM's ``bf16``; False when ``cpuinfo`` lists flags
    without any of them: autocast then emulates bf16 and runs slower than float32 (SISR 3-32 trains about
    5.5 times slower on an AVX2 AMD EPYC); ``None`` where ``cpuinfo`` does not say (no such file).
    """
    _, flags = _cpuinfo(cpuinfo)
    if not flags:
        return None
    return bool(flags & {*BF16_CPU_FLAGS, "bf16"})


def machine_info() -> MachineInfo:
    """Describe this machine: CPU model, cores, memory, OS, Python, torch version and build, GPU.

    Reads ``/proc/cpuinfo`` where there is one (the CPU model otherwise falls back to
    ``platform.processor()``). Asks for the GPU's name only when CUDA is available, which
    initialises CUDA in this process.
    """
    model, flags = _cpuinfo()
    cpu = model or platform.processor() or platform.machine() or "unknown CPU"
    cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return MachineInfo(
        cpu=cpu,
        logical_cores=os.cpu_count() or 1,
        memory_gib=_memory_gib(),
        os=f"{platform.system()} {platform.release()} {platform.machine()}".strip(),
        python=platform.python_version(),
        torch=torch.__version__,
        torch_build=_torch_build(),
        torch_threads=torch.get_num_threads(),
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
        bf16_cpu_flags=tuple(flag for flag in BF16_CPU_FLAGS if flag in flags),
        cuda_device=torch.cuda.get_device_name(0) if cuda_count else None,
        cuda_device_count=cuda_count,
    )
