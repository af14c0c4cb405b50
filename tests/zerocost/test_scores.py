"""Zero-cost scores against their formulas, written out by hand on a two-layer net, and their
properties on every preset: finite, deterministic under a seed, synflow blind to the data."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from archbench.models import (
    VGGConfig,
    VGGStage,
    build_model,
    count_params,
    get_preset,
    list_presets,
)
from archbench.zerocost import Probe, list_scores, score_config

# Two scored layers: a 3x3 conv (ReLU, 2x2 max pool, global average pool) and a linear layer.
TWO_LAYER = VGGConfig(
    stages=(VGGStage(convs=1, channels=4, kernel_size=3),),
    batch_norm=False,
    num_classes=3,
    in_channels=1,
    input_size=8,
)
SEED = 3


def random_batch(cfg, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(
        count, cfg.in_channels, cfg.input_size, cfg.input_size, generator=generator
    )
    labels = torch.randint(0, cfg.num_classes, (count,), generator=generator)
    return images, labels


def two_layer_weights() -> list[torch.Tensor]:
    """conv weight, conv bias, linear weight, linear bias, as ``score_config`` initialises them."""
    torch.manual_seed(SEED)
    model = build_model(TWO_LAYER)
    return [p.detach().clone() for p in model.parameters()]


def two_layer_forward(params: list[torch.Tensor], images: torch.Tensor) -> torch.Tensor:
    conv_w, conv_b, fc_w, fc_b = params
    hidden = F.relu(F.conv2d(images, conv_w, conv_b, padding=1))
    pooled = F.max_pool2d(hidden, 2, ceil_mode=True).mean((2, 3))
    return pooled @ fc_w.T + fc_b


def hand_gradients(images: torch.Tensor, labels: torch.Tensor) -> list[list[torch.Tensor]]:
    """Per half of the batch: d(mean cross-entropy)/d(conv weight, linear weight)."""
    half = len(images) // 2
    per_half = []
    for part in (slice(0, half), slice(half, None)):
        params = [p.requires_grad_() for p in two_layer_weights()]
        loss = F.cross_entropy(two_layer_forward(params, images[part]), labels[part])
        per_half.append(list(torch.autograd.grad(loss, [params[0], params[2]])))
    return per_half


def test_two_layer_forward_matches_the_model() -> None:
    images, _ = random_batch(TWO_LAYER, 6, 0)
    torch.manual_seed(SEED)
    model = build_model(TWO_LAYER)
    torch.testing.assert_close(model(images), two_layer_forward(two_layer_weights(), images))


def test_snip_grad_norm_and_zico_equal_their_formulas() -> None:
    images, labels = random_batch(TWO_LAYER, 8, 1)
    halves = hand_gradients(images, labels)
    weights = [two_layer_weights()[0], two_layer_weights()[2]]
    mean = [(a + b) / 2 for a, b in zip(*halves)]
    snip = sum(float((w * g).abs().sum()) for w, g in zip(weights, mean))
    grad_norm = sum(float(g.norm()) for g in mean)
    zico = 0.0
    for a, b in zip(*halves):
        stacked = torch.stack([a, b]).flatten(1)
        std = stacked.std(0, correction=0)
        keep = std > 0
        zico += math.log(float((stacked.abs().mean(0)[keep] / std[keep]).sum()))

    scores = score_config(
        TWO_LAYER, ["snip", "grad_norm", "zico"], batches=[(images, labels)], seed=SEED
    )
    assert scores["snip"] == pytest.approx(snip, rel=1e-5)
    assert scores["grad_norm"] == pytest.approx(grad_norm, rel=1e-5)
    assert scores["zico"] == pytest.approx(zico, rel=1e-5)


def test_synflow_equals_its_formula() -> None:
    params = [p.double().abs().requires_grad_() for p in two_layer_weights()]
    ones = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    synflow_r = two_layer_forward(params, ones).sum()
    conv_grad, fc_grad = torch.autograd.grad(synflow_r, [params[0], params[2]])
    conv_w, fc_w = params[0].detach(), params[2].detach()
    expected = float((conv_w * conv_grad).sum() + (fc_w * fc_grad).sum())
    assert score_config(TWO_LAYER, ["synflow"], seed=SEED)["synflow"] == pytest.approx(expected)


def test_synflow_does_not_depend_on_the_data() -> None:
    cfg = get_preset("simple_cnn").with_data(num_classes=10, in_channels=3, input_size=16)
    without = score_config(cfg, ["synflow"], seed=0)["synflow"]
    for data_seed in (0, 1):
        batch = random_batch(cfg, 4, data_seed)
        assert score_config(cfg, ["synflow"], batches=[batch], seed=0)["synflow"] == without
    assert score_config(cfg, ["synflow"], seed=1)["synflow"] != without  # weights do matter


def test_naswot_equals_a_hand_computed_hamming_kernel() -> None:
    images, labels = random_batch(TWO_LAYER, 6, 2)
    conv_w, conv_b, _, _ = two_layer_weights()
    codes = (F.conv2d(images, conv_w, conv_b, padding=1) > 0).flatten(1)  # the one ReLU's input
    units = codes.shape[1]
    kernel = torch.tensor(
        [[units - int((a != b).sum()) for b in codes] for a in codes], dtype=torch.float64
    )
    expected = math.log(abs(float(torch.det(kernel))))
    got = score_config(TWO_LAYER, ["naswot"], batches=[(images, labels)], seed=SEED)["naswot"]
    assert got == pytest.approx(expected, rel=1e-9)


def test_naswot_kernel_is_positive_semidefinite() -> None:
    cfg = get_preset("quizdnn").with_data(num_classes=10, in_channels=3, input_size=16)
    batches = [random_batch(cfg, 6, 3), random_batch(cfg, 6, 4)]
    kernel = Probe(cfg, batches, seed=0).gradient_pass.kernel
    assert kernel.shape == (12, 12)
    torch.testing.assert_close(kernel, kernel.T)
    assert torch.all(kernel.diagonal() == kernel.diagonal()[0])  # N_A: every unit agrees
    assert float(torch.linalg.eigvalsh(kernel).min()) >= -1e-6 * float(kernel.diagonal()[0])


@pytest.mark.parametrize("name", list_presets())
def test_every_score_is_finite_on_every_preset(name: str) -> None:
    cfg = get_preset(name).with_data(num_classes=10, in_channels=3, input_size=8)
    scores = score_config(cfg, batches=[random_batch(cfg, 6, 0)], seed=5)
    assert set(scores) == set(list_scores()) - {"ensemble"}
    assert all(math.isfinite(value) for value in scores.values()), scores
    assert scores["params"] == count_params(cfg)


@pytest.mark.parametrize("name", ["quizdnn", "simple_cnn"])
def test_scores_are_deterministic_under_a_seed(name: str) -> None:
    cfg = get_preset(name).with_data(num_classes=10, in_channels=1, input_size=16)
    batches = [random_batch(cfg, 4, 0), random_batch(cfg, 4, 1)]
    first = score_config(cfg, batches=batches, seed=7)
    assert score_config(cfg, batches=batches, seed=7) == first
    other = score_config(cfg, batches=batches, seed=8)
    assert other["params"] == first["params"] and other["snip"] != first["snip"]
