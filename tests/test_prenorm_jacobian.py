"""Q20 checked numerically: analytic d x_{l+1} / d x_l of eq. 31 / eq. 32 equals autograd's Jacobian; the
Jacobian-vs-depth records are those products, reproducible from their seeds."""
import pytest
import torch

from mvadl.seeding import torch_generator
from nlp_experiments.prenorm.jacobians import (
    NormBlock,
    analytic_block_jacobian,
    flat_jacobian,
    jacobian_norms_vs_depth,
    layer_norm_jacobian,
    make_stack,
)


def random_block(pre_norm: bool, seed: int = 0, dim: int = 8, heads: int = 2) -> NormBlock:
    torch.manual_seed(seed)
    block = NormBlock(dim, heads, pre_norm).double().eval()
    with torch.no_grad():  # a non-trivial LayerNorm gain and bias
        block.norm.weight.uniform_(0.5, 1.5)
        block.norm.bias.uniform_(-0.5, 0.5)
    return block


def test_layer_norm_closed_form_jacobian_matches_autograd():
    torch.manual_seed(0)
    norm = torch.nn.LayerNorm(6).double()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    x = 3 * torch.randn(4, 6, dtype=torch.float64) + 1
    torch.testing.assert_close(layer_norm_jacobian(x, norm), flat_jacobian(norm, x))


@pytest.mark.parametrize("pre_norm", [False, True], ids=["post-norm eq31", "pre-norm eq32"])
def test_block_jacobian_chain_rule_matches_autograd(pre_norm):
    block = random_block(pre_norm)
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    analytic = analytic_block_jacobian(block, x)
    torch.testing.assert_close(analytic, flat_jacobian(block, x), rtol=1e-9, atol=1e-10)


def test_identity_path_only_in_pre_norm():
    """Pre-norm: J - I = J_A J_LN, which vanishes when A's output projection is zero; post-norm never is I."""
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for pre_norm in (False, True):
        block = random_block(pre_norm)
        with torch.no_grad():
            block.attention.attention.out_proj.weight.zero_()
        jac = flat_jacobian(block, x)
        distance = (jac - torch.eye(jac.shape[0], dtype=jac.dtype)).norm()
        if pre_norm:
            assert distance < 1e-12
        else:  # J_LN projects out the mean and divides by sigma: a singular, non-identity map
            assert distance > 1.0
            assert torch.linalg.svdvals(jac)[-1] < 1e-8


def test_jacobian_norm_vs_depth_records_are_the_chain_rule_products():
    """A depth-1 record is the norms of the analytic block Jacobian at the record's input; the stacks share
    their blocks across depths and norm placements; the global generator is left alone."""
    state = torch.random.get_rng_state()
    records = jacobian_norms_vs_depth([1, 3], dim=8, tokens=4, heads=2, seeds=(0, 5), base_seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert [(r["norm"], r["depth"], r["seed"]) for r in records] == [
        (n, d, s) for n in ("postnorm", "prenorm") for d in (1, 3) for s in (0, 5)]
    for record in (r for r in records if r["depth"] == 1):
        block = make_stack(1, 8, 2, record["norm"] == "prenorm", record["seed"], base_seed=7)[0]
        x0 = torch.randn(4, 8, generator=torch_generator(7, "jacobian_input", record["seed"]), dtype=torch.float64)
        singular = torch.linalg.svdvals(analytic_block_jacobian(block, x0))
        assert record["spectral_norm"] == pytest.approx(float(singular[0]), rel=1e-9)
        assert record["min_singular_value"] == pytest.approx(float(singular[-1]), rel=1e-6, abs=1e-12)
    post = [r for r in records if r["norm"] == "postnorm"]
    assert all(r["min_singular_value"] < 1e-6 for r in post)  # LN removes the mean direction
    assert all(r["min_singular_value"] > 1e-3 for r in records if r["norm"] == "prenorm" and r["depth"] == 1)
    deep, shallow = make_stack(3, 8, 2, True, 5, 7), make_stack(1, 8, 2, False, 5, 7)
    assert torch.equal(deep[0].attention.attention.in_proj_weight, shallow[0].attention.attention.in_proj_weight)
    assert not torch.equal(deep[0].attention.attention.in_proj_weight,
                           make_stack(1, 8, 2, True, 0, 7)[0].attention.attention.in_proj_weight)
    again = jacobian_norms_vs_depth([1, 3], dim=8, tokens=4, heads=2, seeds=(0, 5), base_seed=7)
    assert again == records
    assert jacobian_norms_vs_depth([1], dim=8, tokens=4, heads=2, seeds=(0,), base_seed=8)[0] != records[0]
