"""One config at initialisation: its seeded weights and the pass that several scores share.

Every data-dependent score (``snip``, ``grad_norm``, ``zico``, ``naswot``) reads the same gradient
pass: per batch, one forward with the activation signs recorded and one backward of the mean
cross-entropy, so asking for all of them costs one pass, and each score's value does not depend on
which other scores are asked for. Batch norm is in training mode there (the batch's statistics,
as in the first training step); dropout and stochastic depth are off, so the pass is a function
of the weights and the batches alone.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.ops import StochasticDepth

from archbench.models import ModelConfig, build_model

Batch = tuple[torch.Tensor, torch.Tensor]

# The layers whose weights the scores sum over: every convolution and linear layer, as in
# Abdelfattah et al. (2021) and ZiCo. Batch-norm affine parameters are not scored.
SCORED_LAYERS = (nn.Conv2d, nn.Linear)
# The activations with a kink at 0, whose sides NASWOT's binary codes record. Sigmoid (SE) and
# softmax (branch gates) are gates, not piecewise-linear units, and are not recorded.
KINKED_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.SiLU, nn.GELU, nn.Hardswish)
_RANDOM_REGULARIZERS = (nn.Dropout, StochasticDepth)


def scored_layers(model: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    return [module for module in model.modules() if isinstance(module, SCORED_LAYERS)]


@dataclass(frozen=True)
class GradientPass:
    """What one pass over the gradient batches leaves behind.

    Attributes:
        weights: the scored layers' weights, detached, in ``model.modules()`` order.
        gradients: per batch, the gradient of that batch's mean loss for each weight.
        kernel: NASWOT's (N, N) float64 kernel over every image of the batches, in order.
    """

    weights: list[torch.Tensor]
    gradients: list[list[torch.Tensor]]
    kernel: torch.Tensor

    @cached_property
    def mean_gradients(self) -> list[torch.Tensor]:
        """The gradient of the mean of the batches' losses: what SNIP and grad_norm score."""
        return [sum(per_layer) / len(per_layer) for per_layer in zip(*self.gradients)]  # type: ignore[misc]


class Probe:
    """A config, its seeded initial weights and the batches it is scored on.

    Args:
        cfg: the architecture; its input shape must match the batches.
        batches: ``(images, labels)`` pairs of the search's data, normalized as for training, or
            empty for the data-independent scores. A single batch is split into two halves for
            the gradient pass, because ZiCo needs the spread of gradients across batches (as the
            ZiCo authors' code splits one batch in two).
        seed: seeds the weights (torch's default initialisation), without touching the caller's
            random state.
        device: where the model and the batches live.
    """

    def __init__(
        self,
        cfg: ModelConfig,
        batches: Sequence[Batch] = (),
        *,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        self.cfg = cfg
        self.batches = list(batches)
        self.seed = seed
        self.device = torch.device(device)

    @cached_property
    def _initial_model(self) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = build_model(self.cfg)  # on the CPU: the same weights on every device
        return model.to(self.device)

    def model(self) -> nn.Module:
        """A fresh copy of the initial model (scores may change weights, gradients and BN stats)."""
        return copy.deepcopy(self._initial_model)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.cfg.in_channels, self.cfg.input_size, self.cfg.input_size)

    @cached_property
    def gradient_batches(self) -> list[Batch]:
        if not self.batches:
            raise ValueError(
                "this score needs data: pass batches, e.g. scoring_batches(train_data)"
            )
        if len(self.batches) > 1:
            return self.batches
        images, labels = self.batches[0]
        if len(images) < 2:
            raise ValueError("a single scoring batch needs at least 2 images (it is halved)")
        half = len(images) // 2
        return [(images[:half], labels[:half]), (images[half:], labels[half:])]

    @cached_property
    def gradient_pass(self) -> GradientPass:
        model = self.model().train()
        for module in model.modules():
            if isinstance(module, _RANDOM_REGULARIZERS):
                module.eval()
        layers = scored_layers(model)
        codes: list[list[torch.Tensor]] = []  # per batch, one code per activation call

        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            # A pre-hook: in-place activations overwrite their input after this.
            codes[-1].append(inputs[0].detach().flatten(1) > 0)

        hooks = [
            module.register_forward_pre_hook(record)
            for module in model.modules()
            if isinstance(module, KINKED_ACTIVATIONS)
        ]
        gradients = []
        try:
            for images, labels in self.gradient_batches:
                codes.append([])
                model.zero_grad(set_to_none=True)
                F.cross_entropy(model(images), labels).backward()
                gradients.append([weight_gradient(layer.weight) for layer in layers])
        finally:
            for hook in hooks:
                hook.remove()
        return GradientPass(
            weights=[layer.weight.detach() for layer in layers],
            gradients=gradients,
            kernel=_hamming_kernel(codes, sum(len(x) for x, _ in self.gradient_batches)),
        )


def weight_gradient(weight: torch.Tensor) -> torch.Tensor:
    """A copy of ``weight``'s gradient; zeros for a layer the loss did not reach."""
    return weight.grad.detach().clone() if weight.grad is not None else torch.zeros_like(weight)


def _hamming_kernel(codes: list[list[torch.Tensor]], count: int) -> torch.Tensor:
    """K[i, j] = units where images i and j fall on the same side of every kink.

    That is ``N_A - hamming(c_i, c_j)``. With signs s = 2c - 1, s_i . s_j counts agreements minus
    disagreements, so K = (N_A + s s^T) / 2: one product per activation call. Each product is
    exact in float32 (integer sums below 2^24); the sum over calls is float64.
    """
    kernel = torch.zeros(count, count, dtype=torch.float64)
    for same_call in zip(*codes):  # one activation call, every batch
        signs = torch.cat(same_call).float().mul_(2).sub_(1)
        kernel += ((signs.shape[1] + signs @ signs.T) / 2).double().cpu()
    return kernel
