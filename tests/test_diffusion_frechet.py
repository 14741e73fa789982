"""FID/KID formulas against Gaussian closed forms."""
import numpy as np
import pytest

from vae_diffusion.diffusion.frechet import frechet_distance, kernel_inception_distance


def test_frechet_distance_of_gaussians_matches_closed_form():
    rng = np.random.default_rng(0)
    std_a, std_b, shift = np.array([1.0, 2.0, 0.5]), np.array([1.5, 1.0, 0.5]), np.array([1.0, -2.0, 0.0])
    a = rng.standard_normal((200_000, 3)) * std_a
    b = rng.standard_normal((200_000, 3)) * std_b + shift
    # diagonal covariances: d^2 = ||shift||^2 + sum (std_a - std_b)^2
    expected = (shift ** 2).sum() + ((std_a - std_b) ** 2).sum()
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((400, 8)), rng.standard_normal((400, 8))
    same, _ = kernel_inception_distance(a, b, subset_size=200, num_subsets=20)
    shifted, _ = kernel_inception_distance(a, b + 1.0, subset_size=200, num_subsets=20)
    assert abs(same) < 0.05 < shifted


def test_distances_reject_mismatched_features():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError):
        kernel_inception_distance(np.zeros((1, 3)), np.zeros((4, 3)))
