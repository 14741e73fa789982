"""The shared manual sampling loop with every registered scheduler, on dummy components built in code."""
import pytest
import torch

from vae_diffusion.diffusion.sampling import (SCHEDULERS, initial_noise, make_scheduler, sample, sample_in_batches,
                                              unet_denoiser)
from vae_diffusion.diffusion.unet import build_noise_scheduler, build_unet


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest (and steadily on a shared machine) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def dummy_components():
    torch.manual_seed(0)
    return build_unet(8, (4, 8), layers_per_block=1, norm_num_groups=4).eval(), build_noise_scheduler(1000)


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_scheduler_runs_and_is_reproducible(dummy_components, name):
    unet, noise_scheduler = dummy_components
    noise = initial_noise(2, (1, 8, 8), seed=3)
    runs = [sample(unet_denoiser(unet), make_scheduler(name, noise_scheduler.config), noise, 4,
                   torch.Generator().manual_seed(7)) for _ in range(2)]
    assert torch.equal(runs[0].images, runs[1].images)
    assert torch.isfinite(runs[0].images).all()
    assert runs[0].model_evaluations == (7 if name == "Heun" else 4)  # Heun: 2 per step but the last
    assert make_scheduler(name, noise_scheduler.config).config.num_train_timesteps == 1000


def test_deterministic_schedulers_ignore_the_generator_and_stochastic_ones_use_it(dummy_components):
    unet, noise_scheduler = dummy_components
    noise = initial_noise(2, (1, 8, 8), seed=0)
    for name, (_, _, stochastic) in SCHEDULERS.items():
        a, b = (sample(unet_denoiser(unet), make_scheduler(name, noise_scheduler.config), noise, 3,
                       torch.Generator().manual_seed(s)).images for s in (1, 2))
        assert torch.equal(a, b) != stochastic, name


def test_sample_in_batches_matches_one_batch_for_a_deterministic_solver(dummy_components):
    unet, noise_scheduler = dummy_components
    noise = initial_noise(4, (1, 8, 8), seed=0)

    def factory():
        return make_scheduler("DDIM", noise_scheduler.config)

    whole = sample_in_batches(unet_denoiser(unet), factory, noise, 3, seed=0, device="cpu", batch_size=4)
    split = sample_in_batches(unet_denoiser(unet), factory, noise, 3, seed=0, device="cpu", batch_size=2)
    assert torch.allclose(whole.images, split.images, atol=1e-5)


def test_unknown_scheduler_is_a_clear_error(dummy_components):
    with pytest.raises(KeyError, match="unknown scheduler"):
        make_scheduler("PLMS?", dummy_components[1].config)
