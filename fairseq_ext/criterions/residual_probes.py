"""Measurements of the residual stream x_0 ... x_L of a transformer, used by the gradient-norm criterion.

x_l is the input of layer l (x_0: embeddings after dropout) and x_L the output of the last layer
(before the final LayerNorm that a pre-norm fairseq decoder adds). The functions here are pure and
are tested directly; :class:`ResidualStreamRecorder` only collects the tensors during a forward pass.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class ResidualStreamRecorder:
    """Forward hooks that keep x_0 ... x_L of one forward pass while :attr:`active` is True.

    A forward-pre-hook on every layer keeps its input x_l; a forward hook on the last layer keeps its
    output x_L. The tensors stay in the autograd graph, so gradient hooks can be put on them.
    """

    def __init__(self, layers: Sequence[nn.Module]):
        if len(layers) == 0:
            raise ValueError("the model has no layers to record")
        self.active = False
        self.streams: list[torch.Tensor] = []
        self._handles = [layer.register_forward_pre_hook(self._keep_input) for layer in layers]
        self._handles.append(layers[-1].register_forward_hook(self._keep_output))

    def _keep_input(self, module, args):
        if self.active:
            self.streams.append(args[0])

    def _keep_output(self, module, args, output):
        if self.active:
            self.streams.append(output[0] if isinstance(output, (tuple, list)) else output)

    def start(self) -> None:
        self.streams = []
        self.active = True

    def stop(self) -> list[torch.Tensor]:
        self.active = False
        streams, self.streams = self.streams, []
        return streams

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def jacobian_rms_by_projection(top: torch.Tensor, streams: Sequence[torch.Tensor], num_samples: int,
                               generator: torch.Generator | None = None) -> list[float]:
    """Root-mean-square singular value of J_l = d x_L / d x_l for every l, from vector-Jacobian products.

    For v ~ N(0, I), E ||v^T J_l||^2 = ||J_l||_F^2, so with n = numel(x_L)

        rms(J_l) = sqrt( mean_k ||v_k^T J_l||^2 / n )

    is 1 for the identity (l = L) and grows/shrinks as the Jacobian product amplifies/attenuates.
    The graph is kept (``retain_graph``) so the training backward can still run afterwards; no
    parameter ``.grad`` is touched because only the streams are differentiated.
    """
    if num_samples < 1:
        raise ValueError("num_samples must be >= 1")
    squared = [0.0] * len(streams)
    for _ in range(num_samples):
        v = torch.randn(top.shape, generator=generator, dtype=top.dtype).to(top.device)
        grads = torch.autograd.grad(top, list(streams), grad_outputs=v, retain_graph=True, allow_unused=True)
        for i, g in enumerate(grads):
            squared[i] += 0.0 if g is None else float(g.pow(2).sum())
    n = top.numel()
    return [math.sqrt(s / num_samples / n) for s in squared]


def parameter_gradient_norm(module: nn.Module) -> float:
    """|| concatenated .grad of the module's parameters ||_2 (0 where no gradient exists)."""
    total = 0.0
    for p in module.parameters():
        if p.grad is not None:
            total += float(p.grad.detach().pow(2).sum())
    return math.sqrt(total)


def flat_parameters(module: nn.Module) -> torch.Tensor:
    """A detached copy of all parameters of ``module`` as one vector."""
    return torch.cat([p.detach().reshape(-1).clone() for p in module.parameters()])


def relative_update_size(before: torch.Tensor, after: torch.Tensor) -> float:
    """||theta_t - theta_{t-1}|| / ||theta_{t-1}||: how far one optimizer step moved the weights."""
    return float((after - before).norm() / before.norm().clamp_min(1e-12))


def safe_ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when it is undefined or not finite."""
    if denominator == 0 or not math.isfinite(numerator) or not math.isfinite(denominator):
        return None
    return numerator / denominator
