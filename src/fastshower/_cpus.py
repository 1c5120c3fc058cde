"""What this process's CPUs offer: how many it may use (a container's or batch slot's limit, not
the machine's), and whether they multiply bfloat16 matrices in hardware."""

from __future__ import annotations

import os

__all__ = ["bfloat16_matrix_units", "usable_cpus"]


def usable_cpus() -> int:
    """CPUs in this process's affinity mask where the platform has one, else the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def bfloat16_matrix_units() -> bool:
    """Whether the CPU has bfloat16 matrix units (Intel AMX), where bfloat16 products run
    several times faster than float32 ones; elsewhere bfloat16 on a CPU is slower. Imports
    torch: call it where torch is loaded anyway."""
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # torch's own CPU-feature probe
    return bool(probe and probe())
