"""The negative-prompt study's image seeds: one derived stream per run seed, so runs never share an image."""
from mvadl.seeding import derive_seed
from vae_diffusion.guidance.evaluation import experiment_seeds


def test_runs_with_different_seeds_share_no_image():
    runs = {seed: experiment_seeds(seed, 1000) for seed in range(5)}
    for seed, seeds in runs.items():
        assert len(set(seeds)) == 1000  # no image twice within a run
        for other in range(seed + 1, 5):
            assert not set(seeds) & set(runs[other]), (seed, other)


def test_image_i_uses_the_derived_seed_and_a_larger_run_extends_a_smaller_one():
    assert experiment_seeds(3, 4) == [derive_seed(3, "image", i) for i in range(4)]
    assert experiment_seeds(3, 10)[:4] == experiment_seeds(3, 4)
    # the seed baseline's second images come from another stream: the same indices, other seeds
    assert not set(experiment_seeds(3, 100)) & set(experiment_seeds(3, 100, "baseline image"))
