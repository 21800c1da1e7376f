"""Small helpers shared by the wings, the demo and the benchmarks.

This package sits below the wings: it imports no wing (nor ``cli``), so anything may use it.
"""

from vidlearn.utils.machine import MachineInfo, cpu_has_bf16, machine_info

__all__ = ["MachineInfo", "cpu_has_bf16", "machine_info"]
