"""The pre/post-norm presets build, through fairseq, models with the intended norm placement and depth."""

import pytest
import torch
from fairseq import options, tasks
from fairseq.models.transformer_lm import TransformerLanguageModel

import fairseq_ext  # noqa: F401  (registers the presets)

PRESETS = {
    "mva_lm_postnorm_shallow": (False, 2),
    "mva_lm_postnorm_deep": (False, 12),
    "mva_lm_prenorm_shallow": (True, 2),
    "mva_lm_prenorm_deep": (True, 12),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A binarized-dictionary stub: language_modeling only needs dict.txt to build a model."""
    root = tmp_path_factory.mktemp("lm_dict")
    (root / "dict.txt").write_text("".join(f"w{i} {100 - i}\n" for i in range(20)))
    return root


def build(data_dir, *argv: str):
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [str(data_dir), "--task", "language_modeling",
                                                "--user-dir", fairseq_ext.__path__[0], "--cpu", *argv])
    task = tasks.setup_task(args)
    return task.build_model(args)


@pytest.mark.parametrize("arch", sorted(PRESETS))
def test_preset_builds_the_intended_model(data_dir, arch):
    normalize_before, depth = PRESETS[arch]
    model = build(data_dir, "--arch", arch)
    assert isinstance(model, TransformerLanguageModel)
    layers = model.decoder.layers
    assert len(layers) == depth
    assert all(layer.normalize_before == normalize_before for layer in layers)
    assert layers[0].embed_dim == 64
    # pre-norm adds a final LayerNorm after the last layer; post-norm's last layer already ends with one
    assert (model.decoder.layer_norm is not None) == normalize_before


def test_layer_computes_the_intended_equation(data_dir):
    """Functionally: a post-norm layer's output is LayerNorm-ed (zero mean, unit variance per token)."""
    torch.manual_seed(0)
    for arch, (normalize_before, _) in PRESETS.items():
        model = build(data_dir, "--arch", arch, "--dropout", "0").eval()
        tokens = torch.randint(4, 20, (2, 7))
        out = {}
        model.decoder.layers[0].register_forward_hook(lambda m, a, o, out=out: out.update(x=o[0]))
        model(tokens)
        x = out["x"]
        unit = torch.allclose(x.mean(-1), torch.zeros_like(x.mean(-1)), atol=1e-4) and torch.allclose(
            x.var(-1, unbiased=False), torch.ones_like(x.mean(-1)), atol=1e-2)
        assert unit == (not normalize_before), arch


def test_command_line_flags_override_preset_defaults(data_dir):
    model = build(data_dir, "--arch", "mva_lm_prenorm_deep", "--decoder-layers", "3")
    assert len(model.decoder.layers) == 3 and model.decoder.layers[0].normalize_before
