"""Device choice and NVML's absence: a missing package or driver is a reason, not a crash."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from archbench.hwprofile import NvmlDevice, Unavailable, resolve_device

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def test_cpu_and_auto() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(" CPU ") == torch.device("cpu")


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "tpu", ""])
def test_unknown_devices_say_what_to_write(spec: str) -> None:
    with pytest.raises(ValueError, match="write auto, cpu, cuda or cuda:N"):
        resolve_device(spec)


@NO_CUDA
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_is_bad_input(spec: str) -> None:
    with pytest.raises(ValueError, match="torch.cuda.is_available"):
        resolve_device(spec)


def test_missing_nvml_package_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    with pytest.raises(Unavailable, match="nvidia-ml-py"):
        NvmlDevice(torch.device("cuda", 0))


def test_nvml_that_cannot_start_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    def nvml_init() -> None:
        raise NVMLError("NVML Shared Library Not Found")

    fake.NVMLError = NVMLError  # type: ignore[attr-defined]
    fake.nvmlInit = nvml_init  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    with pytest.raises(Unavailable, match="NVML could not start: NVML Shared Library Not Found"):
        NvmlDevice(torch.device("cuda", 0))


@NO_CUDA
def test_this_machine_reports_why_nvml_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="NVML"):
        NvmlDevice(torch.device("cuda", 0))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_nvml_sees_the_cuda_device() -> None:
    try:
        nvml = NvmlDevice(torch.device("cuda", 0))
    except Unavailable as exc:
        pytest.skip(str(exc))
    with nvml:
        assert nvml.used_bytes() > 0
        assert nvml.stamp()["driver"]


def test_an_nvml_read_that_fails_is_a_reason() -> None:
    """A real NVML call that fails (here: NVML never started) marks the figure unavailable."""
    pynvml = pytest.importorskip("pynvml")
    nvml = object.__new__(NvmlDevice)
    nvml._nvml, nvml._handle = pynvml, None
    with pytest.raises(Unavailable, match="NVML could not read the device memory in use"):
        nvml.used_bytes()
