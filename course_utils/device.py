"""Where the code runs: device, training precision, peak memory and wall-clock timing."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil
import torch


def pick_device() -> torch.device:
    """cuda, else mps, else cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_native_bf16() -> bool:
    """True when the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX); elsewhere bf16 is emulated, slower."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu helpers (private, no public API)
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def cuda_has_native_bf16(device: torch.device | None = None) -> bool:
    """True from compute capability 8.0 (Ampere) on; `torch.cuda.is_bf16_supported()` also counts emulation."""
    return torch.cuda.get_device_capability(device)[0] >= 8


def pick_precision(device: torch.device) -> torch.dtype:
    """The autocast dtype training uses: bf16 where the GPU or CPU has it in hardware, fp16 on older GPUs, else fp32."""
    if device.type == "cuda":  # bf16 in hardware from compute capability 8 (Ampere); T4 and V100 emulate it
        return torch.bfloat16 if cuda_has_native_bf16(device) else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16  # chapter 02's BERT step: 141 vs 212 ms in fp32 on the course's AVX512-BF16 CPU
    return torch.float32  # MPS, and CPUs without bf16 hardware


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued kernels: GPU calls return before the work is done."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_calls(
    fn: Callable[[], object], repeats: int, warmup: int = 1, device: torch.device | str = "cpu"
) -> list[float]:
    """Wall seconds of each of `repeats` calls of `fn`, after `warmup` untimed ones, the device synchronised."""
    if repeats <= 0 or warmup < 0:
        raise ValueError(f"repeats must be positive and warmup non-negative, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):  # kernel selection, caches, lazy initialisation
        fn()
    synchronize(device)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def _release_free_memory() -> None:
    """Ask glibc to hand freed heap memory back to the OS, so resident memory reflects what is in use."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows): the estimate is just coarser
        pass


class PeakMemory:
    """`with PeakMemory(device) as peak:` ... `peak.mb`: the peak memory the block added, in MB.

    CUDA: torch's allocator statistics (exact). CPU: the process's resident memory sampled every 5 ms by a
    thread, minus what it was on entry after freed memory was returned to the OS (an estimate).
    """

    def __init__(self, device: torch.device | str = "cpu", interval_s: float = 0.005) -> None:
        self.device, self.interval_s, self.mb = torch.device(device), interval_s, 0.0

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
            return self
        import gc
        import threading

        gc.collect()
        _release_free_memory()
        process = psutil.Process()
        self._start = self._peak = process.memory_info().rss
        self._stop = threading.Event()

        def sample() -> None:
            while not self._stop.wait(self.interval_s):
                self._peak = max(self._peak, process.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.mb = (torch.cuda.max_memory_allocated(self.device) - self._start) / 2**20
            return
        self._stop.set()
        self._thread.join()
        self.mb = (self._peak - self._start) / 2**20
