"""d x_{l+1} / d x_l of post-norm (eq. 31) and pre-norm (eq. 32) blocks, analytic vs autograd (Q20).

One block without feed-forward, with a real (causal, multi-head) self-attention A and a LayerNorm, on
one sequence x of T tokens of dimension d, flattened to a vector of T*d entries. Chain rule:

    post-norm (31)  x_{l+1} = LN(x_l + A(x_l))   =>  d x_{l+1}/d x_l = J_LN(x_l + A(x_l)) (I + J_A(x_l))
    pre-norm  (32)  x_{l+1} = x_l + A(LN(x_l))   =>  d x_{l+1}/d x_l = I + J_A(LN(x_l)) J_LN(x_l)

and over L blocks d x_L / d x_l = prod_{k=l}^{L-1} d x_{k+1} / d x_k. In the post-norm product every
factor passes through J_LN, so no term of the expanded product is the identity (multiplicative path);
the pre-norm product expands to I + sum_k J_A J_LN + ..., an identity path plus additive corrections.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from mvadl.seeding import derive_seed, torch_generator


class SelfAttention(nn.Module):
    """A(x): causal multi-head self-attention of one sequence x of shape (T, d)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, bias=True, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[0]
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), diagonal=1)
        x = x.unsqueeze(0)
        return self.attention(x, x, x, attn_mask=causal, need_weights=False)[0].squeeze(0)


class NormBlock(nn.Module):
    """One residual block, eq. 31 (``pre_norm=False``) or eq. 32 (``pre_norm=True``)."""

    def __init__(self, dim: int, heads: int, pre_norm: bool):
        super().__init__()
        self.attention = SelfAttention(dim, heads)
        self.norm = nn.LayerNorm(dim)
        self.pre_norm = pre_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            return x + self.attention(self.norm(x))  # eq. 32
        return self.norm(x + self.attention(x))  # eq. 31


def flat_jacobian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """d fn(x) / d x as a (numel(out), numel(x)) matrix, by ``torch.autograd.functional.jacobian``."""
    jac = torch.autograd.functional.jacobian(fn, x)
    out_numel = jac.numel() // x.numel()
    return jac.reshape(out_numel, x.numel())


def layer_norm_jacobian(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    """Closed-form J_LN(x) for x of shape (T, d): block-diagonal, one d x d block per token.

    With mu, sigma = sqrt(var + eps) and x_hat = (x - mu) / sigma of one token,
        d LN(x) / d x = diag(gamma) / sigma * (I - 1 1^T / d - x_hat x_hat^T / d).
    The 1/sigma factor is why the scale of the input of a LayerNorm sets the size of its Jacobian.
    """
    t, d = x.shape
    mu = x.mean(-1, keepdim=True)
    sigma = torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + norm.eps)
    x_hat = (x - mu) / sigma
    eye = torch.eye(d, dtype=x.dtype)
    gamma = norm.weight.detach() if norm.weight is not None else torch.ones(d, dtype=x.dtype)
    blocks = [gamma[:, None] / sigma[i] * (eye - 1.0 / d - torch.outer(x_hat[i], x_hat[i]) / d) for i in range(t)]
    return torch.block_diag(*blocks)


def analytic_block_jacobian(block: NormBlock, x: torch.Tensor) -> torch.Tensor:
    """d x_{l+1} / d x_l assembled from J_LN (closed form) and J_A (autograd of A alone) by the chain rule."""
    identity = torch.eye(x.numel(), dtype=x.dtype)
    if block.pre_norm:
        normed = block.norm(x).detach()
        return identity + flat_jacobian(block.attention, normed) @ layer_norm_jacobian(x, block.norm)
    summed = (x + block.attention(x)).detach()
    return layer_norm_jacobian(summed, block.norm) @ (identity + flat_jacobian(block.attention, x))


def make_stack(depth: int, dim: int, heads: int, pre_norm: bool, seed: int, base_seed: int = 0) -> nn.Sequential:
    """``depth`` randomly initialized blocks (PyTorch's default init), drawn from the stream
    ``derive_seed(base_seed, "jacobian_blocks", seed)`` without touching the global generator.

    The stream depends on neither the depth nor the norm placement: the stack of depth L is the first L blocks
    of the deeper ones, and the post-norm and pre-norm stacks of a seed have the same weights (common random
    numbers: the curves differ by the placement of LayerNorm and the depth only).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(base_seed, "jacobian_blocks", seed))
        return nn.Sequential(*[NormBlock(dim, heads, pre_norm) for _ in range(depth)]).double().eval()


def jacobian_norms_vs_depth(depths: Sequence[int], *, dim: int = 16, tokens: int = 8, heads: int = 2,
                            seeds: Sequence[int] = (0, 1, 2), base_seed: int = 0,
                            input_scale: float = 1.0) -> list[dict]:
    """||d x_L / d x_0|| at initialization for stacks of L post-norm / pre-norm blocks.

    For each seed s (a repetition; its records say which): the blocks of :func:`make_stack` and one input
    x_0 ~ N(0, input_scale^2) of shape (tokens, dim) from the stream
    ``derive_seed(base_seed, "jacobian_input", s)`` (``base_seed``: the study's ``--seed``). Returns one record
    per (norm, depth, seed) with the spectral norm, the RMS singular value (||J||_F / sqrt(n)), the smallest
    singular value and the distance of J from the identity relative to sqrt(n) (how much of the map the
    identity path carries).
    """
    records = []
    for pre_norm in (False, True):
        for depth in depths:
            for seed in seeds:
                stack = make_stack(depth, dim, heads, pre_norm, seed, base_seed)
                generator = torch_generator(base_seed, "jacobian_input", seed)
                x0 = input_scale * torch.randn(tokens, dim, generator=generator, dtype=torch.float64)
                jac = flat_jacobian(stack, x0)
                n = jac.shape[0]
                singular = torch.linalg.svdvals(jac)
                records.append({
                    "norm": "prenorm" if pre_norm else "postnorm", "depth": depth, "seed": seed,
                    "spectral_norm": float(singular[0]),
                    "rms_singular_value": float(jac.norm() / n ** 0.5),
                    "min_singular_value": float(singular[-1]),
                    "distance_from_identity": float((jac - torch.eye(n, dtype=jac.dtype)).norm() / n ** 0.5),
                })
    return records
