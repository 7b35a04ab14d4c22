"""Device, training precision, peak memory and timing."""

import time

import pytest
import torch

from course_utils import device


def test_device_and_precision():
    assert (device.pick_device().type == "cuda") == torch.cuda.is_available()
    expected = torch.bfloat16 if device.cpu_has_native_bf16() else torch.float32
    assert device.pick_precision(torch.device("cpu")) == expected


def test_time_calls_times_each_call_after_the_warmup():
    calls = []
    seconds = device.time_calls(lambda: (calls.append(1), time.sleep(0.01)), repeats=3, warmup=2)
    assert len(calls) == 5 and len(seconds) == 3 and all(0.009 < s < 1 for s in seconds)
    with pytest.raises(ValueError, match="repeats=0"):
        device.time_calls(lambda: None, repeats=0)


def test_peak_memory_sees_a_large_allocation():
    with device.PeakMemory("cpu") as peak:
        block = torch.ones(50 * 2**20 // 4)  # 50 MiB of float32
        block += 1
        time.sleep(0.05)
    del block
    assert 40 < peak.mb < 500


def test_cpu_precision_follows_the_hardware(monkeypatch):
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: False)
    assert device.pick_precision(torch.device("cpu")) == torch.float32
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: True)
    assert device.pick_precision(torch.device("cpu")) == torch.bfloat16
    assert device.pick_precision(torch.device("mps")) == torch.float32


class _FakeCapability:
    def __init__(self, major: int) -> None:
        self.major = major

    def __call__(self, index=None) -> tuple[int, int]:
        return (self.major, 5 if self.major == 7 else 0)


def test_gpu_precision_follows_compute_capability_not_emulation(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)  # a T4 says yes
    for major, expected in ((7, torch.float16), (8, torch.bfloat16), (9, torch.bfloat16)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", _FakeCapability(major))
        assert device.pick_precision(torch.device("cuda")) == expected, f"compute capability {major}.x"
