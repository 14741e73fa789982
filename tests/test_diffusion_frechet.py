"""FID/KID: the torchmetrics metrics on the classifier's features (``core/metrics.py``) against the closed forms
the project used before (kept here as the reference), and the closed forms against Gaussians."""
import numpy as np
import pytest
import torch
from scipy import linalg

from mvadl.seeding import derive_seed
from vae_diffusion.core.classifier import DEFAULT_WEIGHTS, load_classifier
from vae_diffusion.core.metrics import (
    ClassifierFeatures,
    FeatureDistances,
    FrechetToReference,
    paired_fid_difference,
)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Reference: Frechet distance between Gaussians fitted to the two sets (Heusel et al. 2017),
    ``d^2 = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})``, with SciPy's matrix square root."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected [N, D] feature arrays of equal D, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # singular product: regularise as in the reference FID code
        offset = np.eye(len(cov_a)) * 1e-6
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def kernel_inception_distance(features_a: np.ndarray, features_b: np.ndarray, *, subset_size: int = 1000,
                              num_subsets: int = 100, seed: int = 0, subsets=None) -> tuple[float, float]:
    """Reference KID (Binkowski et al. 2018): unbiased MMD^2 with the cubic kernel ``k(x, y) = (x.y / D + 1)^3``,
    averaged over random subsets of ``subset_size`` (capped at the smaller set), or over the given ``subsets``
    (pairs of index arrays into a and b). Returns (mean, population std)."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected [N, D] feature arrays of equal D, got {a.shape} and {b.shape}")
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    dim, rng = a.shape[1], np.random.default_rng(seed)
    if subsets is None:
        subsets = [(rng.choice(len(a), m, replace=False), rng.choice(len(b), m, replace=False))
                   for _ in range(num_subsets)]
    values = []
    for index_a, index_b in subsets:
        x, y = a[index_a], b[index_b]
        m = len(x)
        k_xx, k_yy, k_xy = ((x @ x.T / dim + 1) ** 3, (y @ y.T / dim + 1) ** 3, (x @ y.T / dim + 1) ** 3)
        values.append(((k_xx.sum() - np.trace(k_xx)) + (k_yy.sum() - np.trace(k_yy))) / (m * (m - 1))
                      - 2 * k_xy.mean())
    return float(np.mean(values)), float(np.std(values))


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


@pytest.fixture(scope="module")
def digit_sets():
    """The committed classifier and two sets of synthetic 'digits' from different distributions (blurred blobs,
    sparse dots), on which its 128 features have full-rank covariances (n > 128)."""
    classifier = load_classifier(DEFAULT_WEIGHTS)
    generator = torch.Generator().manual_seed(1)
    blobs = torch.nn.functional.avg_pool2d(torch.rand(300, 1, 28, 28, generator=generator), 5, 1, 2)
    reference = (blobs.pow(4) * 20).clamp(0, 1)
    generated = (torch.rand(260, 1, 28, 28, generator=generator) > 0.8).float()
    with torch.no_grad():
        features = ClassifierFeatures(classifier)
        return classifier, reference, generated, features(reference).numpy(), features(generated).numpy()


def test_torchmetrics_fid_and_kid_equal_the_closed_forms_on_the_same_features(digit_sets):
    classifier, reference, generated, ref_features, gen_features = digit_sets
    n = len(generated)
    # KID subsets of all n images: every subset is the whole set, so the RNG does not matter
    distances = FeatureDistances(ClassifierFeatures(classifier), reference[:n], kid_subset_size=n, kid_subsets=3,
                                 batch_size=100)
    ours = distances(generated, seed=0)
    fid = frechet_distance(gen_features, ref_features[:n])
    kid, kid_std = kernel_inception_distance(gen_features, ref_features[:n], subset_size=n, num_subsets=3)
    assert fid > 1.0 and kid > 0.0  # two different distributions
    assert ours["fid"] == pytest.approx(fid, rel=1e-9, abs=1e-9)
    assert ours["kid"] == pytest.approx(kid, rel=1e-9, abs=1e-12)
    assert ours["kid_std"] == pytest.approx(kid_std, abs=1e-12) and kid_std < 1e-12


def test_torchmetrics_kid_equals_the_closed_form_on_the_same_random_subsets(digit_sets):
    classifier, reference, generated, ref_features, gen_features = digit_sets
    distances = FeatureDistances(ClassifierFeatures(classifier), reference, kid_subset_size=50, kid_subsets=7)
    ours = distances(generated, seed=3)
    # torchmetrics draws, per subset, randperm(n_real)[:m] then randperm(n_fake)[:m] from the seeded CPU generator
    torch.manual_seed(derive_seed(3, "kid_subsets"))
    subsets = []
    for _ in range(7):
        real, fake = torch.randperm(len(reference))[:50].numpy(), torch.randperm(len(generated))[:50].numpy()
        subsets.append((real, fake))
    kid, kid_std = kernel_inception_distance(ref_features, gen_features, subsets=subsets)
    assert ours["kid"] == pytest.approx(kid, rel=1e-9, abs=1e-12)
    assert ours["kid_std"] == pytest.approx(kid_std, rel=1e-9, abs=1e-12) and kid_std > 0
    assert distances(generated, seed=3) == ours  # the subsets come from (seed, "kid_subsets") only
    assert distances(generated, seed=4)["kid"] != ours["kid"]


def test_distances_reject_mismatched_features_and_tiny_sets(digit_sets):
    with pytest.raises(ValueError):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError):
        kernel_inception_distance(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        FeatureDistances(ClassifierFeatures(digit_sets[0]), digit_sets[1][:1])


def test_extracted_features_and_the_closed_form_to_a_reference_give_the_torchmetrics_fid(digit_sets):
    classifier, reference, generated, ref_features, gen_features = digit_sets
    n = len(generated)
    distances = FeatureDistances(ClassifierFeatures(classifier), reference[:n], kid_subset_size=n, kid_subsets=3,
                                 batch_size=100)
    np.testing.assert_allclose(distances.extract(generated), gen_features, rtol=1e-12)
    frechet = FrechetToReference(distances.extract(reference[:n]))
    assert frechet(gen_features) == pytest.approx(distances(generated, seed=0)["fid"], rel=1e-6)


def test_paired_fid_difference_finds_a_shift_and_no_difference_between_like_sets():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(300, 8))
    base = rng.normal(size=(300, 8))
    shifted = base + 0.5  # every image of the second set moved: FID is higher
    higher = paired_fid_difference(shifted, base, reference, seed=0, n_resamples=200)
    assert higher.verdict == "higher" and higher.low > 0 and higher.p_value < 0.05
    assert higher.difference == pytest.approx(FrechetToReference(reference)(shifted)
                                              - FrechetToReference(reference)(base))
    jitter = base + rng.normal(scale=1e-3, size=base.shape)  # the same images up to noise
    level = paired_fid_difference(jitter, base, reference, seed=0, n_resamples=200)
    assert level.verdict == "level" and level.low <= 0 <= level.high
    same = paired_fid_difference(base, base, reference, seed=0, n_resamples=50)
    assert same.difference == 0 and same.p_value == 1 and same.verdict == "level"
    with pytest.raises(ValueError, match="one shape"):
        paired_fid_difference(base, base[:10], reference, seed=0)
