"""Finished sampling batches kept on disk and read back by a resumed run (``sampling_cache``), and the precision
and memory-layout options of the UNet denoiser."""
import pytest
import torch

from vae_diffusion.diffusion.sampling import initial_noise, make_scheduler, sample_in_batches, unet_denoiser
from vae_diffusion.diffusion.sampling_cache import SamplingCache, module_digest
from vae_diffusion.diffusion.unet import build_noise_scheduler, build_unet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    return build_unet(8, (4, 8), layers_per_block=1, norm_num_groups=4).eval()


class Stop(Exception):
    pass


def counting(denoiser, stop_after: int | None = None):
    """``denoiser`` that counts its calls and raises :class:`Stop` once it has made ``stop_after`` of them."""
    def call(x, t):
        call.n += 1
        if stop_after is not None and call.n > stop_after:
            raise Stop
        return denoiser(x, t)
    call.n = 0
    return call


def run(unet, cache, denoiser=None, steps=3, name="DDPM"):
    config = build_noise_scheduler(1000).config
    return sample_in_batches(denoiser or unet_denoiser(unet), lambda: make_scheduler(name, config),
                             initial_noise(6, (1, 8, 8), seed=1), steps, seed=0, device="cpu", batch_size=2,
                             cache=cache)


def test_a_run_stopped_part_way_resumes_and_equals_the_uninterrupted_run(unet, tmp_path):
    whole = run(unet, None)
    key = {"model": module_digest(unet)}
    first = SamplingCache.for_run("study", key, root=tmp_path)
    with pytest.raises(Stop):  # stopped in the second of three batches
        run(unet, first, counting(unet_denoiser(unet), stop_after=4))
    assert first.summary()["batches_sampled"] == 1
    second = SamplingCache.for_run("study", key, resume=True, root=tmp_path)
    denoiser = counting(unet_denoiser(unet))
    resumed = run(unet, second, denoiser)
    assert torch.equal(resumed.images, whole.images)  # the stochastic sampler too: each batch has its own stream
    assert denoiser.n == 2 * 3  # only the two batches the first run did not finish
    summary = second.summary()
    assert (summary["batches_sampled"], summary["batches_resumed"], summary["resumes"]) == (2, 1, 1)
    assert summary["resumed_seconds"] > 0 and resumed.seconds >= summary["resumed_seconds"]


def test_batches_are_read_back_only_when_resuming_and_only_for_the_same_key(unet, tmp_path):
    key = {"model": module_digest(unet)}
    run(unet, SamplingCache.for_run("study", key, root=tmp_path))
    fresh = counting(unet_denoiser(unet))
    run(unet, SamplingCache.for_run("study", key, root=tmp_path), fresh)  # no --resume: sampled again
    assert fresh.n == 9
    other_steps = counting(unet_denoiser(unet))
    run(unet, SamplingCache.for_run("study", key, resume=True, root=tmp_path), other_steps, steps=2)
    assert other_steps.n == 6  # another number of steps is another batch
    other_solver = counting(unet_denoiser(unet))
    run(unet, SamplingCache.for_run("study", key, resume=True, root=tmp_path), other_solver, name="DDIM")
    assert other_solver.n == 9
    other_model = SamplingCache.for_run("study", {"model": "another digest"}, resume=True, root=tmp_path)
    assert other_model.folder != SamplingCache.for_run("study", key, root=tmp_path).folder


def test_the_weights_digest_follows_every_weight(unet):
    changed = build_unet(8, (4, 8), layers_per_block=1, norm_num_groups=4).eval()
    changed.load_state_dict(unet.state_dict())
    assert module_digest(changed) == module_digest(unet)
    with torch.no_grad():
        next(changed.parameters()).view(-1)[0] += 1e-6
    assert module_digest(changed) != module_digest(unet)


def test_an_unreadable_batch_is_sampled_again(unet, tmp_path):
    key = {"model": module_digest(unet)}
    whole = run(unet, SamplingCache.for_run("study", key, root=tmp_path))
    broken = sorted(SamplingCache.for_run("study", key, root=tmp_path).folder.glob("batch-*.safetensors"))[0]
    broken.write_bytes(b"not a safetensors file")
    denoiser = counting(unet_denoiser(unet))
    again = run(unet, SamplingCache.for_run("study", key, resume=True, root=tmp_path), denoiser)
    assert denoiser.n == 3 and torch.equal(again.images, whole.images)


def test_channels_last_keeps_the_output_and_bf16_autocast_returns_fp32_close_to_it(unet):
    x, t = initial_noise(3, (1, 8, 8), seed=2), torch.tensor([10, 500, 900])
    reference = unet_denoiser(unet)(x, t)
    copy = build_unet(8, (4, 8), layers_per_block=1, norm_num_groups=4).eval()
    copy.load_state_dict(unet.state_dict())
    assert torch.allclose(unet_denoiser(copy, channels_last=True)(x, t), reference, atol=1e-5)
    bf16 = unet_denoiser(copy, channels_last=True, autocast_dtype=torch.bfloat16)(x, t)
    assert bf16.dtype == torch.float32
    assert not torch.equal(bf16, reference) and torch.allclose(bf16, reference, atol=0.05)
