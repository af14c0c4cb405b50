"""The built-in zero-cost scores, each a function of a ``Probe``; formulas in ``docs/zerocost.md``.

Conventions shared by all of them: the weights are torch's default initialisation under the
probe's seed; the sums run over the weights of every convolution and linear layer (not biases,
not batch-norm affine parameters), as in Abdelfattah et al. (2021, arXiv:2101.08134); the loss
is the mean cross-entropy. Higher is predicted to be better for every score.
"""

from __future__ import annotations

import math

import torch

from archbench.models import count_params, forward_flops
from archbench.zerocost._probe import Probe, scored_layers, weight_gradient
from archbench.zerocost._registry import ZeroCostScore, register_score


def params(probe: Probe) -> float:
    """Trainable parameters, from the exact analytic counter: the baseline every proxy must beat."""
    return float(count_params(probe.cfg))


def flops(probe: Probe) -> float:
    """Forward FLOPs of one image, as torch's FlopCounterMode counts them (2 per MAC)."""
    return float(forward_flops(probe.cfg))


def synflow(probe: Probe) -> float:
    """SynFlow (Tanaka et al., NeurIPS 2020, arXiv:2006.05467): data-independent synaptic flow.

    With every parameter replaced by its absolute value, R = sum of the outputs for an all-ones
    input of one image; the score is sum_theta theta * dR/dtheta over conv and linear weights.
    Float64, so that the product of many layers does not overflow. Batch norm is in eval mode:
    at initialisation its running mean is 0, its variance 1, gamma 1 and beta 0, so it is the
    identity (up to 1/sqrt(1 + eps)), as the implementations that drop batch norm for SynFlow
    have it. Dropout and stochastic depth are off in eval mode too.
    """
    model = probe.model().double().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.abs_()
    ones = torch.ones(1, *probe.input_shape, dtype=torch.float64, device=probe.device)
    model(ones).sum().backward()
    weights = [layer.weight for layer in scored_layers(model)]
    return _saliency([w.detach() for w in weights], [weight_gradient(w) for w in weights])


def _saliency(weights: list[torch.Tensor], gradients: list[torch.Tensor]) -> float:
    """sum over every weight of |theta * g|."""
    return float(sum(float((w * g).abs().sum()) for w, g in zip(weights, gradients)))


def snip(probe: Probe) -> float:
    """SNIP (Lee et al., ICLR 2019, arXiv:1810.02340): connection sensitivity, summed.

    sum_theta |theta * dL/dtheta|, with dL/dtheta the gradient of the mean loss over the
    scoring batches (batch norm on batch statistics).
    """
    grads = probe.gradient_pass
    return _saliency(grads.weights, grads.mean_gradients)


def grad_norm(probe: Probe) -> float:
    """grad_norm (Abdelfattah et al., ICLR 2021): sum over layers of ||dL/dW||_2 (Frobenius)."""
    return float(sum(float(g.norm()) for g in probe.gradient_pass.mean_gradients))


def naswot(probe: Probe) -> float:
    """NASWOT (Mellor et al., ICML 2021, arXiv:2006.04647): log |det K_H|.

    Each image's binary code c_i records, for every unit of every kinked activation, whether its
    input is positive; K_H[i, j] = N_A - hamming(c_i, c_j), with N_A the number of units. Nets
    that map different images to different linear regions score higher.
    """
    return float(torch.linalg.slogdet(probe.gradient_pass.kernel).logabsdet)


def zico(probe: Probe) -> float:
    """ZiCo (Li et al., ICLR 2023, arXiv:2301.11300): inverse coefficient of variation of gradients.

    sum over layers of log(sum_theta mean_b |g_theta,b| / std_b(g_theta,b)), over the weights whose
    gradient varies across the batches b (population std); layers where none varies are skipped.
    """
    total = 0.0
    for per_batch in zip(*probe.gradient_pass.gradients):
        mean = sum(per_batch) / len(per_batch)
        # Population std, spelled out: torch's std over a short leading dim is several times slower.
        spread = (sum((g - mean).square() for g in per_batch) / len(per_batch)).sqrt()
        mean_abs = sum(g.abs() for g in per_batch) / len(per_batch)
        varies = spread != 0
        ratio = float((mean_abs[varies] / spread[varies]).sum())
        if ratio > 0:
            total += math.log(ratio)
    return total


BUILTIN_SCORES = (
    ZeroCostScore("params", params, needs_data=False, source="exact parameter count"),
    ZeroCostScore("flops", flops, needs_data=False, source="forward FLOPs per image"),
    ZeroCostScore("synflow", synflow, needs_data=False, source="Tanaka et al., NeurIPS 2020"),
    ZeroCostScore("snip", snip, needs_data=True, source="Lee et al., ICLR 2019"),
    ZeroCostScore("grad_norm", grad_norm, needs_data=True, source="Abdelfattah et al., ICLR 2021"),
    ZeroCostScore("naswot", naswot, needs_data=True, source="Mellor et al., ICML 2021"),
    ZeroCostScore("zico", zico, needs_data=True, source="Li et al., ICLR 2023"),
)
for _score in BUILTIN_SCORES:
    register_score(_score)
