"""machine_info: one description of the machine for the demo and the benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from vidlearn.utils import MachineInfo, cpu_has_bf16, machine_info
from vidlearn.utils.machine import _cpuinfo

X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile amx_bf16
processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
"""
ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm bf16 sve
CPU part\t: 0xd40
Model\t\t: Raspberry Pi 5 Model B Rev 1.0
"""


def test_fields_are_present_and_typed() -> None:
    info = machine_info()
    assert isinstance(info, MachineInfo)
    assert isinstance(info.cpu, str) and info.cpu
    assert isinstance(info.logical_cores, int) and info.logical_cores >= 1
    assert info.memory_gib is None or (isinstance(info.memory_gib, float) and info.memory_gib > 0)
    assert info.torch == torch.__version__
    assert info.torch_threads == torch.get_num_threads()
    if torch.version.cuda:
        assert info.torch_build == f"CUDA {torch.version.cuda}"
    elif getattr(torch.version, "hip", None):
        assert info.torch_build == f"ROCm {torch.version.hip}"
    else:
        assert info.torch_build == "CPU-only"
    assert info.cpu_capability == torch.backends.cpu.get_cpu_capability()
    assert isinstance(info.bf16_cpu_flags, tuple)
    assert set(info.bf16_cpu_flags) <= {"avx512_bf16", "amx_bf16", "amx_tile"}
    if torch.cuda.is_available():
        assert info.cuda_device == torch.cuda.get_device_name(0) and info.cuda_device_count >= 1
    else:
        assert (info.cuda_device, info.cuda_device_count) == (None, 0)
    fields = info.as_dict()
    assert json.loads(json.dumps(fields)) == fields  # JSON-ready for results.json
    assert set(fields) == {
        "cpu", "logical_cores", "memory_gib", "os", "python", "torch", "torch_build", "torch_threads",
        "cpu_capability", "bf16_cpu_flags", "cuda_device", "cuda_device_count",
    }  # fmt: skip


def test_one_line_names_cpu_cores_and_torch_version() -> None:
    info = machine_info()
    line = str(info)
    assert "\n" not in line
    assert f"torch {torch.__version__} ({info.torch_build} build" in line
    assert line.startswith(f"{info.cpu}, {info.logical_cores} logical cores, ")
    assert info.os in line


def test_str_of_a_given_machine() -> None:
    info = MachineInfo(
        cpu="AMD EPYC 9654", logical_cores=192, memory_gib=1511.6, os="Linux 6.8.0 x86_64",
        python="3.11.7", torch="2.14.1+cu130", torch_build="CUDA 13.0", torch_threads=96,
        cpu_capability="AVX512", bf16_cpu_flags=("avx512_bf16",), cuda_device="NVIDIA H200",
        cuda_device_count=8,
    )  # fmt: skip
    assert str(info) == (
        "AMD EPYC 9654, 192 logical cores, 1511.6 GiB RAM, GPU NVIDIA H200 (x8); Linux 6.8.0 x86_64; "
        "Python 3.11.7, torch 2.14.1+cu130 (CUDA 13.0 build, 96 threads, CPU capability AVX512, "
        "oneDNN bf16 flags: avx512_bf16)"
    )


def test_cpu_model_and_flags_from_cpuinfo(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(X86_CPUINFO)
    assert _cpuinfo(path) == (
        "Intel(R) Xeon(R) Platinum 8480+",
        {"fpu", "sse", "avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"},
    )
    path.write_text(ARM_CPUINFO)
    assert _cpuinfo(path) == ("Raspberry Pi 5 Model B Rev 1.0", {"fp", "asimd", "evtstrm", "bf16", "sve"})
    assert _cpuinfo(tmp_path / "missing") == (None, set())


def test_cpu_has_bf16_reads_the_flags(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(X86_CPUINFO)
    assert cpu_has_bf16(path) is True
    path.write_text(ARM_CPUINFO)
    assert cpu_has_bf16(path) is True
    path.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse fma avx avx2\n")
    assert cpu_has_bf16(path) is False
    assert cpu_has_bf16(tmp_path / "missing") is None


def test_utils_imports_no_wing() -> None:
    """vidlearn.utils sits below the wings: importing it loads none of them (nor the cli)."""
    code = (
        "import sys, vidlearn.utils; "
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in ("
        "['vidlearn', 'recognition'], ['vidlearn', 'tracking'], ['vidlearn', 'superres'], "
        "['vidlearn', 'generation'], ['vidlearn', 'cli'])))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
