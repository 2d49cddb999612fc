"""What the CPU this process runs on can do: the cores it may use and whether it computes bf16 natively."""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

# /proc/cpuinfo flags of native bf16 arithmetic: AVX-512 BF16 dot products, or AMX tiles.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def usable_cores() -> int:
    """The number of CPUs this process may run on (its affinity mask; the CPU count elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads(requested: int | None = None) -> int:
    """Threads for inference: ``requested``, else ``OMP_NUM_THREADS`` when set to a number, else the usable
    cores. Always at least 1."""
    if requested is not None:
        return max(1, int(requested))
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    return usable_cores()


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where it cannot be read, e.g. not Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def cpu_name() -> str:
    """The CPU model name (``platform.processor()`` where /proc/cpuinfo is missing)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bf16_native() -> bool:
    """True when the CPU has bf16 arithmetic (AVX-512 BF16 or AMX): bf16 is then about twice as fast as
    fp32. Elsewhere bf16 is emulated and slower, so the inference path stays in fp32."""
    return any(flag in cpu_flags() for flag in BF16_FLAGS)


def int8_native() -> bool:
    """True when the CPU has int8 dot products (AVX-512 VNNI, AVX-VNNI or AMX int8)."""
    return any(flag in cpu_flags() for flag in ("avx512_vnni", "avx_vnni", "amx_int8"))
