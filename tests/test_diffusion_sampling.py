"""The shared manual sampling loop with every registered scheduler, on dummy components built in code."""
import pytest
import torch
from diffusers import DDPMScheduler, HeunDiscreteScheduler

from vae_diffusion.diffusion.sampling import (
    CONFIG_FIXES,
    SCHEDULERS,
    initial_noise,
    make_scheduler,
    noise_schedule_variants,
    sample,
    sample_in_batches,
    unet_denoiser,
)
from vae_diffusion.diffusion.unet import build_noise_scheduler, build_unet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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
    heun = SCHEDULERS[name][0] is HeunDiscreteScheduler
    assert runs[0].model_evaluations == (7 if heun else 4)  # Heun: 2 per step but the last


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_scheduler_keeps_the_trained_noise_schedule(name):
    """``from_config`` carries the training schedule over: values that are no scheduler's defaults arrive."""
    trained = DDPMScheduler(num_train_timesteps=50, beta_start=0.002, beta_end=0.03, beta_schedule="linear").config
    config = make_scheduler(name, trained).config
    assert (config.num_train_timesteps, config.beta_start, config.beta_end) == (50, 0.002, 0.03)


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


@pytest.fixture
def saved_config(dummy_components, tmp_path):
    """The DDPM config after a save/load round trip, as in a trained pipeline: its default values become
    explicit, so ``from_config`` hands "leading" spacing to solvers whose own default is "linspace"."""
    dummy_components[1].save_config(tmp_path)
    return DDPMScheduler.from_pretrained(tmp_path).config


def test_config_fixes_and_overrides_reach_the_built_scheduler(dummy_components, saved_config):
    config = saved_config  # clip_sample=True, timestep_spacing="leading"
    assert config.clip_sample and config.timestep_spacing == "leading"
    in_memory = make_scheduler("UniPC", dummy_components[1].config, fixes=False).config
    assert in_memory.timestep_spacing == "linspace"  # before the round trip the DDPM default was not passed on
    for name, fixes in CONFIG_FIXES.items():
        built = make_scheduler(name, config).config
        assert all(built[key] == value for key, value in fixes.items()), name
        inherited = make_scheduler(name, config, fixes=False).config
        assert all(inherited[key] == config[key] for key in fixes), name
    ddim = make_scheduler("DDIM", config, {"clip_sample": True, "set_alpha_to_one": False}).config
    assert ddim.clip_sample and not ddim.set_alpha_to_one  # overrides win over the fixes
    dpm = make_scheduler("DPM-Solver++ 2M", config, {"timestep_spacing": "linspace"}, fixes=False).config
    assert dpm.timestep_spacing == "linspace" and dpm.algorithm_type == "dpmsolver++"  # registry extra kept


def test_spacing_fix_starts_multistep_solvers_at_the_last_training_step(saved_config):
    config = saved_config
    for n, leading_start in ((10, 900), (100, 900), (200, 800)):  # leading: n * (1000 // (n + 1))
        leading = make_scheduler("UniPC", config, fixes=False)
        leading.set_timesteps(n)
        trailing = make_scheduler("UniPC", config)
        trailing.set_timesteps(n)
        assert int(leading.timesteps[0]) == leading_start and int(trailing.timesteps[0]) == 999


def test_an_override_that_is_not_a_config_entry_is_a_clear_error(dummy_components):
    with pytest.raises(ValueError, match="use_clipped_model_output"):
        make_scheduler("DDIM", dummy_components[1].config, {"use_clipped_model_output": True})


def test_step_kwargs_reach_the_scheduler_step(dummy_components):
    unet, noise_scheduler = dummy_components
    noise = initial_noise(2, (1, 8, 8), seed=0) * 3  # far outside [-1, 1]: the x_0 estimate gets clipped

    def run(**step_kwargs):
        return sample(unet_denoiser(unet), make_scheduler("DDIM", noise_scheduler.config, fixes=False), noise, 3,
                      step_kwargs=step_kwargs).images

    assert not torch.equal(run(), run(use_clipped_model_output=True))
    with pytest.raises(ValueError, match="no arguments"):
        run(not_an_argument=1)


KARRAS = {"Euler": "Euler Karras", "Heun": "Heun Karras", "DPM-Solver++ 2M": "DPM-Solver++ 2M Karras"}


def test_each_karras_row_is_paired_with_its_base_solver():
    assert noise_schedule_variants() == KARRAS
    assert noise_schedule_variants(["Euler", "Heun Karras", "DDIM"]) == {}  # a pair needs both rows
    for base, karras in KARRAS.items():
        assert SCHEDULERS[karras][0] is SCHEDULERS[base][0]
        assert SCHEDULERS[karras][1] == {**SCHEDULERS[base][1], "use_karras_sigmas": True}


def _sigmas(scheduler, n: int) -> torch.Tensor:
    scheduler.set_timesteps(n)
    return scheduler.sigmas.float()


@pytest.mark.parametrize("base", list(KARRAS))
def test_karras_rows_build_with_their_own_sigmas(saved_config, base):
    """Built from a trained (saved) DDPM config, each Karras row has Karras sigmas, other than its base's, over the
    whole trained range: sigma(t = 999) down to sigma(t = 0), the same for the three solvers."""
    full = ((1 - make_scheduler(base, saved_config).alphas_cumprod) / make_scheduler(base, saved_config)
            .alphas_cumprod).sqrt()
    for n in (5, 10, 50):
        karras = make_scheduler(KARRAS[base], saved_config)
        assert karras.config.use_karras_sigmas and not make_scheduler(base, saved_config).config.use_karras_sigmas
        sigmas = _sigmas(karras, n).unique_consecutive()  # Heun repeats its inner sigmas
        default = _sigmas(make_scheduler(base, saved_config), n).unique_consecutive()
        assert sigmas.shape == default.shape and not torch.allclose(sigmas, default)
        assert torch.isclose(sigmas[0], full[-1], rtol=1e-4) and torch.isclose(sigmas[-2], full[0], rtol=1e-4)
        assert sigmas[-1] == 0
        reference = _sigmas(make_scheduler("DPM-Solver++ 2M Karras", saved_config), n)
        assert torch.allclose(sigmas, reference.unique_consecutive(), rtol=1e-4)


def test_karras_sigmas_of_euler_are_cut_short_by_leading_or_trailing_spacing(saved_config):
    """The trap CONFIG_FIXES avoids: Euler's Karras sigmas run between the first and last spaced timestep."""
    n = 10
    leading = _sigmas(make_scheduler("Euler Karras", saved_config, fixes=False), n)
    trailing = _sigmas(make_scheduler("Euler Karras", saved_config, {"timestep_spacing": "trailing"}), n)
    fixed = _sigmas(make_scheduler("Euler Karras", saved_config), n)
    assert leading[0] < 0.5 * fixed[0]  # starts at t = 900
    assert trailing[-2] > 10 * fixed[-2]  # stops at t = 99
    assert torch.isclose(trailing[0], fixed[0]) and torch.isclose(leading[-2], fixed[-2])


@pytest.mark.parametrize("base", list(KARRAS))
def test_sampling_with_karras_sigmas_is_deterministic_and_differs_from_the_default(dummy_components, saved_config,
                                                                                    base):
    unet, _ = dummy_components
    noise = initial_noise(2, (1, 8, 8), seed=5)

    def run(name: str, seed: int) -> torch.Tensor:
        return sample(unet_denoiser(unet), make_scheduler(name, saved_config), noise, 4,
                      torch.Generator().manual_seed(seed)).images

    karras = run(KARRAS[base], 1)
    assert torch.isfinite(karras).all()
    assert torch.equal(karras, run(KARRAS[base], 1)) and torch.equal(karras, run(KARRAS[base], 2))
    assert not torch.allclose(karras, run(base, 1))
