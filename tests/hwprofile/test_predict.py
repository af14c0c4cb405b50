"""Predicted memory against a real CPU step, the affine replay, the max batch and GPU names."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from archbench.hwprofile import (
    ALLOCATOR_OVERHEAD,
    CUDA_CONTEXT_BYTES,
    GPU_MEMORY,
    MAX_BATCH_LIMIT,
    TrainStepSimulation,
    predict_max_batch_size,
    predict_peak_memory,
    resolve_memory,
    usable_gpu_bytes,
)
from archbench.hwprofile._memory import replay, trace_train_step
from archbench.hwprofile._predict import _AffineTrace
from archbench.hwprofile._workload import Workload
from archbench.models import VGGConfig, VGGStage, get_preset, list_presets

BATCH_SIZES = (2, 5)  # two sizes, small so that the real CPU steps stay fast


def measured_cpu_peaks(cfg: object, batch_sizes: tuple[int, ...], **options: object) -> list[int]:
    """Tensor peaks of real CPU training steps, tracked the same way as the prediction."""
    torch.manual_seed(0)
    workload = Workload(cfg, "cpu", **options)  # type: ignore[arg-type]
    return [
        replay(trace_train_step(workload, *workload.batch(batch_size))).total
        for batch_size in batch_sizes
    ]


@pytest.mark.parametrize("preset", list_presets())
def test_prediction_is_within_5_percent_of_a_real_cpu_step(preset: str) -> None:
    cfg = get_preset(preset)
    simulation = TrainStepSimulation(cfg)
    predicted = [simulation.predict(batch_size).total for batch_size in BATCH_SIZES]
    measured = measured_cpu_peaks(cfg, BATCH_SIZES)
    for batch_size, guess, truth in zip(BATCH_SIZES, predicted, measured):
        assert abs(guess - truth) <= 0.05 * truth, (batch_size, guess, truth)


@pytest.mark.parametrize(
    "options", [{"amp": "bf16"}, {"channels_last": True}, {"optimizer": "adamw"}], ids=str
)
def test_prediction_follows_amp_layout_and_optimizer(options: dict[str, object]) -> None:
    cfg = get_preset("quizdnn")
    predicted = predict_peak_memory(cfg, 4, **options).total  # type: ignore[arg-type]
    (measured,) = measured_cpu_peaks(cfg, (4,), **options)
    assert abs(predicted - measured) <= 0.05 * measured, (predicted, measured)


def test_amp_lowers_the_predicted_peak() -> None:
    cfg = get_preset("resnet20_cifar")
    fp32 = predict_peak_memory(cfg, 64).activations
    bf16 = predict_peak_memory(cfg, 64, amp="bf16").activations
    assert bf16 < 0.8 * fp32


def test_breakdown_sums_to_the_peak_and_counts_the_optimizer_state() -> None:
    cfg = get_preset("resnet20_cifar")
    param_bytes = sum(
        -(-4 * p.numel() // 512) * 512 for p in Workload(cfg, "meta").model.parameters()
    )
    sgd = predict_peak_memory(cfg, 16)
    assert sgd.params + sgd.gradients + sgd.optimizer_state + sgd.activations == sgd.total
    assert sgd.optimizer_state == param_bytes  # one momentum buffer per parameter
    assert 0 < sgd.gradients <= param_bytes
    adamw = predict_peak_memory(cfg, 16, optimizer="adamw")
    assert 2 * param_bytes <= adamw.optimizer_state <= 2 * param_bytes + 512 * 100  # + steps


def test_affine_replay_equals_a_direct_simulation() -> None:
    simulation = TrainStepSimulation(get_preset("branchnet_cifar"))
    for batch_size in (8, 16, 12):
        simulation.trace(batch_size)
    affine = _AffineTrace.fit(simulation._traces)
    assert affine is not None
    for batch_size in (1, 37):
        assert replay(affine.at(batch_size)) == simulation.predict(batch_size)


class _BatchGram(nn.Module):
    """A model whose activation memory grows with the square of the batch size."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3 * 32 * 32, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        flat = images.flatten(1)
        return (flat @ flat.T) @ self.linear(flat)


def test_a_model_that_is_not_affine_in_the_batch_is_simulated_per_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("archbench.hwprofile._workload.build_model", lambda cfg: _BatchGram())
    simulation = TrainStepSimulation(get_preset("simple_cnn"))
    memory = 64 * 2**20 + CUDA_CONTEXT_BYTES
    search = simulation.max_batch_size(memory)
    assert _AffineTrace.fit(simulation._traces) is None
    budget = usable_gpu_bytes(memory)
    best = search.max_batch_size
    assert simulation.predict(best).total <= budget < simulation.predict(best + 1).total


@pytest.mark.parametrize("preset", ["resnet18_cifar", "simple_cnn"])
def test_predicted_max_batch_is_the_last_batch_that_fits(preset: str) -> None:
    cfg = get_preset(preset)
    simulation = TrainStepSimulation(cfg)
    best = simulation.max_batch_size(GPU_MEMORY["rtx3060"]).max_batch_size
    budget = (GPU_MEMORY["rtx3060"] - CUDA_CONTEXT_BYTES) / ALLOCATOR_OVERHEAD
    assert best > 100
    assert simulation.predict(best).total <= budget < simulation.predict(best + 1).total
    assert predict_max_batch_size(cfg, GPU_MEMORY["rtx3060"]) == best


def test_predicted_max_batch_at_the_extremes() -> None:
    tiny = VGGConfig(stages=(VGGStage(1, 8),), batch_norm=False)
    assert predict_max_batch_size(tiny, 2**40) == MAX_BATCH_LIMIT
    assert predict_max_batch_size(get_preset("vgg16_cifar"), CUDA_CONTEXT_BYTES) == 0


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("24GiB", 24 * 2**30),
        ("12GB", 12 * 10**9),
        ("rtx3060", 12 * 2**30),
        ("RTX4090", 24 * 2**30),
        ("a100_80gb", 80 * 2**30),
        ("H100-80GB", 80 * 2**30),
    ],
)
def test_memory_accepts_sizes_and_gpu_names(text: str, size: int) -> None:
    assert resolve_memory(text) == size


def test_unknown_memory_lists_the_gpu_names() -> None:
    with pytest.raises(ValueError, match="rtx3060.*a100-40gb"):
        resolve_memory("rtx9999")


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        predict_peak_memory(get_preset("simple_cnn"), 0)
