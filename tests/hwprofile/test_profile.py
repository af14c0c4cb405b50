"""``profile_model`` end to end on this machine's CPU, and its counts against hand counts."""

from __future__ import annotations

import dataclasses
import json
import socket

import pytest
import torch

from archbench.hwprofile import GPU_MEMORY, LEVELS, ProfileResult, profile_model
from archbench.hwprofile._profile import _static_figures
from archbench.models import VGGConfig, VGGStage, get_preset

CPU_FIGURES = (
    "latency_ms_median",
    "latency_ms_p90",
    "infer_images_per_second",
    "train_images_per_second",
    "peak_train_memory_bytes",
    "peak_infer_memory_bytes",
    "peak_train_rss_bytes",
    "predicted_train_memory_bytes",
    "predicted_max_batch_size",
)
CUDA_ONLY = ("peak_train_reserved_bytes", "peak_train_device_used_bytes", "max_batch_size")


@pytest.fixture(scope="module")
def cpu_profile() -> ProfileResult:
    """Level basic on CPU, asked for batch 64: it measures at 16, the basic CPU cap."""
    return profile_model(
        get_preset("simple_cnn"),
        device="cpu",
        batch_size=64,
        level="basic",
        memory=GPU_MEMORY["rtx4090"],
        max_batch=True,
    )


def test_every_cpu_figure_is_measured(cpu_profile: ProfileResult) -> None:
    for name in CPU_FIGURES:
        value = getattr(cpu_profile, name)
        assert value is not None and value > 0, (name, cpu_profile.unavailable.get(name))
    assert cpu_profile.latency_ms_median <= cpu_profile.latency_ms_p90  # type: ignore[operator]
    assert cpu_profile.predicted_for_memory_bytes == GPU_MEMORY["rtx4090"]


def test_every_timing_carries_its_spread_and_blocks(cpu_profile: ProfileResult) -> None:
    assert cpu_profile.latency_timed_blocks is not None and cpu_profile.latency_timed_blocks >= 5
    assert cpu_profile.infer_timed_blocks == cpu_profile.train_timed_blocks == 5
    for name in ("latency_ms_iqr", "infer_images_per_second_iqr", "train_images_per_second_iqr"):
        assert getattr(cpu_profile, name) is not None and getattr(cpu_profile, name) >= 0.0
    assert set(cpu_profile.noisy) <= {
        "latency_ms_median",
        "infer_images_per_second",
        "train_images_per_second",
    }


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_figures_are_none_with_a_reason(cpu_profile: ProfileResult) -> None:
    for name in (*CUDA_ONLY, "max_batch_size_safe"):
        assert getattr(cpu_profile, name) is None
        assert cpu_profile.unavailable[name]
    assert "CUDA" in cpu_profile.unavailable["max_batch_size"]
    assert cpu_profile.unavailable["compile_seconds"] == "compile not requested"
    assert "level full" in cpu_profile.unavailable["fvcore_macs"]


def test_measured_cpu_peak_is_the_predicted_one(cpu_profile: ProfileResult) -> None:
    measured = cpu_profile.peak_train_memory_bytes
    assert cpu_profile.predicted_train_memory_bytes == pytest.approx(measured, rel=0.05)
    assert cpu_profile.peak_infer_memory_bytes < measured  # type: ignore[operator]


def test_basic_caps_the_cpu_batch_and_says_so(cpu_profile: ProfileResult) -> None:
    assert cpu_profile.env["batch_size"] == LEVELS["basic"].cpu_batch_size == 16
    assert "instead of 64" in cpu_profile.notes["batch_size"]


def test_environment_stamp(cpu_profile: ProfileResult) -> None:
    env = cpu_profile.env
    assert env["device"] == "cpu" and env["device_name"]
    assert env["threads"] == torch.get_num_threads()
    assert (env["precision"], env["memory_format"], env["compile"]) == ("fp32", "nchw", False)
    assert env["torch"] == torch.__version__ and env["level"] == "basic"
    assert env["host"] == socket.gethostname()  # and ray_node_id inside Ray (test_ray_cluster.py)


def test_result_round_trips_through_json(cpu_profile: ProfileResult) -> None:
    data = json.loads(json.dumps(cpu_profile.to_dict()))
    assert ProfileResult.from_dict(data) == cpu_profile
    with pytest.raises(ValueError, match="unknown key 'latency'"):
        ProfileResult.from_dict({**data, "latency": 1.0})


def test_a_reason_cannot_stand_beside_a_value(cpu_profile: ProfileResult) -> None:
    with pytest.raises(ValueError, match="flops"):
        dataclasses.replace(cpu_profile, unavailable={"flops": "not counted"})


ONE_CONV = VGGConfig(stages=(VGGStage(1, 8, 3),), batch_norm=False)  # conv, pool, linear head
CONV_MACS = 8 * 32 * 32 * 3 * 3 * 3  # output elements x (input channels x 3 x 3)
HEAD_MACS = 8 * 10


def test_flops_of_a_single_conv_equal_the_hand_count() -> None:
    figures, _ = _static_figures(ONE_CONV, LEVELS["basic"])
    assert figures["macs"] == CONV_MACS + HEAD_MACS
    assert figures["flops"] == 2 * (CONV_MACS + HEAD_MACS)
    # backward: the weight gradient of the conv (its input needs none) and both of the head's
    assert figures["train_step_flops"] == 2 * (2 * CONV_MACS + 3 * HEAD_MACS)
    assert figures["n_params"] == 8 * 3 * 9 + 8 + 8 * 10 + 10
    assert figures["model_bytes_fp32"] == 4 * figures["n_params"]


def test_fvcore_agrees_with_the_hand_count() -> None:
    pytest.importorskip("fvcore")
    figures, unavailable = _static_figures(ONE_CONV, LEVELS["full"])
    assert "fvcore_macs" not in unavailable
    global_pool = 8 * 16 * 16  # fvcore counts adaptive pooling by its input; max pooling not
    assert figures["fvcore_macs"] == CONV_MACS + global_pool + HEAD_MACS


@pytest.mark.parametrize(
    ("argument", "match"),
    [
        ({"level": "fast"}, "level"),
        ({"batch_size": 0}, "batch_size"),
        ({"amp": "fp8"}, "amp"),
        ({"optimizer": "adam"}, "optimizer"),
        ({"memory": 0}, "memory"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_arguments_raise_value_errors(argument: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        profile_model(get_preset("simple_cnn"), **argument)  # type: ignore[arg-type]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_profile_fills_the_gpu_figures_and_the_prediction_holds() -> None:
    result = profile_model(get_preset("resnet20_cifar"), device="cuda", batch_size=128)
    for name in ("peak_train_memory_bytes", "peak_train_reserved_bytes", "latency_ms_median"):
        assert getattr(result, name), result.unavailable.get(name)
    assert result.peak_train_rss_bytes is None
    measured = result.peak_train_memory_bytes
    assert result.predicted_train_memory_bytes == pytest.approx(measured, rel=0.10)


def test_a_shared_device_flag_means_nothing_on_a_cpu(cpu_profile: ProfileResult) -> None:
    """CPU figures carry no device-sharing mark (the flag is for CUDA cards)."""
    shared = profile_model(
        get_preset("simple_cnn"), device="cpu", level="basic", shared_device=True
    )
    assert not shared.shared_device and not cpu_profile.shared_device
    assert "latency_ms_median" not in shared.notes
    assert ProfileResult.from_dict(shared.to_dict()).shared_device is False


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_shared_cuda_profile_marks_timings_and_drops_device_wide_memory() -> None:
    result = profile_model(
        get_preset("simple_cnn"), device="cuda", batch_size=32, max_batch=True, shared_device=True
    )
    assert result.shared_device
    assert result.latency_ms_median and "other trials" in result.notes["latency_ms_median"]
    for name in ("peak_train_device_used_bytes", "max_batch_size", "max_batch_size_safe"):
        assert getattr(result, name) is None
        assert "shared" in result.unavailable[name]
    assert result.peak_train_memory_bytes, "the allocator's peak is this process's own"
    assert ProfileResult.from_dict(result.to_dict()).shared_device


def test_a_latency_longer_than_a_whole_batch_is_noisy() -> None:
    from archbench.hwprofile._profile import contradictions

    figures: dict[str, object] = {"latency_ms_median": 234.6, "infer_images_per_second": 228.0}
    contradictions(figures, 16)
    assert figures["noisy"] == {
        "latency_ms_median": "235 ms, longer than a whole batch of 16 (70.2 ms)"
    }
    consistent: dict[str, object] = {"latency_ms_median": 13.0, "infer_images_per_second": 228.0}
    contradictions(consistent, 16)
    assert "noisy" not in consistent
