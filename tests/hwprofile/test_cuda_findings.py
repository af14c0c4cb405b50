"""The CUDA paths' second-read findings, on the CPU where they can run: one OOM classifier that
tells a defect at the smallest batch from memory, empty messages, NHWC for one channel, bf16
capability, NVML matched by UUID/MIG UUID/PCI bus id with a guarded shutdown. The GPU-only
halves are ``cuda``-marked."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from archbench.hwprofile import is_oom_error, profile_model, sweep_batch_sizes
from archbench.hwprofile._device import NvmlDevice, nvml_handle, nvml_uuids
from archbench.hwprofile._max_batch import first_line
from archbench.hwprofile._workload import Workload, bf16_native, check_amp
from archbench.models import get_preset

NO_ENGINE = "GET was unable to find an engine to execute this computation"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_one_classifier_tells_oom_from_a_defect_at_the_smallest_batch() -> None:
    cublas = RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate")
    assert is_oom_error(cublas) and is_oom_error(cublas, batch_size=1)
    assert is_oom_error(torch.cuda.OutOfMemoryError(""), batch_size=1)  # torch < 2.5's name too
    assert is_oom_error(RuntimeError(NO_ENGINE), batch_size=64)
    assert not is_oom_error(RuntimeError(NO_ENGINE), batch_size=1)  # nothing smaller fits: a defect
    assert not is_oom_error(RuntimeError("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED"), batch_size=1)


def test_an_empty_message_keeps_its_type() -> None:
    assert first_line(RuntimeError()) == "RuntimeError"
    assert first_line(ValueError("  \n")) == "ValueError"
    assert first_line(RuntimeError("first\nsecond")) == "RuntimeError: first"


def _failing_above(monkeypatch: pytest.MonkeyPatch, largest: int, message: str) -> None:
    """Measured training steps fail with ``message`` above ``largest`` images, as the card
    would; the prediction's fake-tensor steps run as they are."""
    from torch._subclasses.fake_tensor import FakeTensor

    step = Workload.train_step

    def train_step(self: Workload, images: torch.Tensor, labels: torch.Tensor) -> None:
        if len(images) > largest and not isinstance(images, FakeTensor):
            raise RuntimeError(message)
        step(self, images, labels)

    monkeypatch.setattr(Workload, "train_step", train_step)


def test_a_cublas_oom_ends_the_sweep_instead_of_aborting_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _failing_above(monkeypatch, 2, "CUDA error: CUBLAS_STATUS_ALLOC_FAILED")
    result = sweep_batch_sizes(get_preset("simple_cnn"), [1, 2, 4, 8], device="cpu")
    assert [p.train_images_per_second is not None for p in result.points] == [
        True, True, False, False,
    ]  # fmt: skip
    assert result.points[3].unavailable["train_images_per_second"] == "out of memory at batch 4"


def test_no_engine_at_the_sweeps_smallest_batch_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _failing_above(monkeypatch, 0, NO_ENGINE)
    with pytest.raises(RuntimeError, match="unable to find an engine"):
        sweep_batch_sizes(get_preset("simple_cnn"), [2, 4], device="cpu")


def test_channels_last_restrides_one_channel_tensors_as_the_trainer_does() -> None:
    cfg = dataclasses.replace(get_preset("simple_cnn"), in_channels=1)
    workload = Workload(cfg, "cpu", channels_last=True)
    first = next(p for p in workload.model.parameters() if p.dim() == 4)  # (C, 1, k, k)
    reference = torch.nn.Conv2d(1, first.shape[0], first.shape[-1]).to(
        memory_format=torch.channels_last
    )
    assert first.stride() == reference.weight.stride() and first.stride()[1] == 1
    images, _ = workload.batch(2)
    assert images.stride() == (cfg.input_size**2, 1, cfg.input_size, 1)


def test_bf16_capability() -> None:
    assert not bf16_native((7, 5)) and bf16_native((8, 0)) and bf16_native((9, 0))
    check_amp("bf16", "cpu")  # CPU autocast runs bf16
    with pytest.raises(ValueError, match="unknown"):
        check_amp("fp8", "cpu")


class _FakeNvml:
    """NVML's lookup functions over a table of known ids (NVML itself needs a driver)."""

    class NVMLError(Exception):
        pass

    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.shutdowns = 0

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> str:  # noqa: N802 (NVML's name)
        if uuid not in self.known:
            raise self.NVMLError("Not Found")
        return self.known[uuid]

    def nvmlDeviceGetHandleByPciBusId(self, bus_id: str) -> str:  # noqa: N802
        return self.nvmlDeviceGetHandleByUUID(bus_id)

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.shutdowns += 1
        raise self.NVMLError("Driver Not Loaded")


def test_nvml_matches_the_card_by_uuid_mig_uuid_then_pci_bus_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    nvml = _FakeNvml({"GPU-1234": "card", "MIG-abcd": "slice", "00000000:41:00.0": "by-bus"})
    assert nvml_uuids("1234") == ["GPU-1234", "MIG-1234"]
    assert nvml_handle(nvml, nvml_uuids("1234"), None) == "card"
    assert nvml_handle(nvml, nvml_uuids("abcd"), None) == "slice"
    assert nvml_handle(nvml, nvml_uuids("ffff"), "00000000:41:00.0") == "by-bus"
    with pytest.raises(LookupError, match="GPU-ffff: Not Found; MIG-ffff: Not Found"):
        nvml_handle(nvml, nvml_uuids("ffff"), None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-abcd")
    assert nvml_uuids("abcd") == ["MIG-abcd", "GPU-abcd"]
    with pytest.raises(LookupError):  # never the whole card's figures for a MIG slice
        nvml_handle(nvml, nvml_uuids("ffff"), "00000000:41:00.0")


def test_a_failing_nvml_shutdown_does_not_raise() -> None:
    session = NvmlDevice.__new__(NvmlDevice)
    session._nvml = _FakeNvml({})
    session.close()
    assert session._nvml.shutdowns == 1


@pytest.mark.cuda
@needs_cuda
def test_bf16_profile_is_refused_on_a_card_without_bf16() -> None:
    if bf16_native(torch.cuda.get_device_capability()):
        pytest.skip("this card has bf16")
    with pytest.raises(ValueError, match="bf16 needs compute capability 8.0"):
        profile_model(get_preset("simple_cnn"), device="cuda", amp="bf16")


@pytest.mark.cuda
@needs_cuda
def test_a_compiled_profile_reports_each_static_shape_compile_apart() -> None:
    result = profile_model(get_preset("simple_cnn"), device="cuda", batch_size=32, compile=True)
    assert set(result.compile_seconds_by_call) == {"infer@1", "infer@32", "train@32"}
    assert result.compile_seconds == result.compile_seconds_by_call["train@32"]


@pytest.mark.cuda
@needs_cuda
def test_nvml_finds_cuda0s_card() -> None:
    pytest.importorskip("pynvml")
    with NvmlDevice(torch.device("cuda", 0)) as nvml:
        assert nvml.used_bytes() > 0
