"""The checks of ``make verify``: each number of the report that a shipped model produces, re-computed from the
model under ``artifacts/`` and compared with the committed record that holds it (:data:`CHECKS`).

* ``nmt``: BLEU of every shipped translation model (one entry each in ``SHIPPED_MODELS`` of
  :mod:`nlp_experiments.translation.artifacts`: ``artifacts/nmt_MODEL/vN``, the averaged checkpoint of the run
  at the update count the entry names, fp16 where that moved BLEU by at most 0.1) on Multi30k test 2016
  (Flickr), in every direction the model is evaluated on, translated by fairseq-interactive with beam 5 from the
  raw sentences, scored by sacreBLEU against ``results/nmt/curves.json`` (the fp32 checkpoint's, at that update
  count). A model the record also scores through English (the English-centric model, ``zeroshot_pivot_en``)
  gets the pivot's de<->fr too: source -> en with the shipped model, then en -> target from those translations.
  Each folder is first checked against its SHA256SUMS and its pinned sha256, and its ``ship.json`` must name the
  model and update count of the record's key. Tolerance 0.2 BLEU: the fp16 weights of ``nmt_direct/v3`` moved
  BLEU by at most 0.04 when shipped (``results/nmt/shipped_direct.json``, whose fp16 BLEU this decoding
  reproduced exactly). ``--quick``: the first 100 sentences, 5 BLEU (their BLEU lay within 2.2 of the whole
  set's).
* ``classifier``: test accuracy of ``artifacts/mnist_classifier/v2`` on the 10,000 MNIST test digits against
  ``results/diffusion/classifier.json``; 0.0005 (5 digits). ``--quick``: the first 1,000 digits, 0.01.
* ``q19``: the text-to-digit model (``artifacts/text_to_digit/v1``): for each negative prompt of the study the
  concept's share without and with the negative prompt, the share of digits kept, and the mean stroke-mask IoU of
  the pairs, from the record's seeds, scale and steps, read with the classifier the record names, against
  ``results/guidance/metrics.json``; 0.02 a share (4 images of 200), 0.01 IoU. ``--quick``: 10 images, not
  compared.
* ``ddpm``: a Q18 subset from ``artifacts/ddpm_mnist/v1``: FID of DDIM at 20 steps and of DPM-Solver++ 2M at 10
  steps, with and without Karras sigmas, from the study's initial noise and recorded scheduler configs, against
  ``results/diffusion/scheduler_metrics.json``; 0.05. ``--quick``: 16 samples, not compared.
* ``vae``: test ELBO (the record's noise seed; 0.1 nats) and the importance-sampled test NLL with k = 500 samples
  per image instead of the record's 5,000 (a looser bound by a few tenths of a nat; 0.5 nats) of
  ``artifacts/vae_mnist/v1`` against ``results/vae/metrics.json``. ``--quick``: the first 1,000 test digits, ELBO
  within 3 nats (a subset's mean), NLL with k = 50 not compared.

A check whose artefact folder is not there yet is reported as "not shipped yet". Everything written goes under
``runs/verify/`` (the translations, ``runs/verify/nmt/<system>/<direction>.txt``).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from pathlib import Path

from mvadl import REPO_ROOT
from mvadl.data import DataError
from mvadl.verify.checks import Check, VerifyEnv, lookup
from nlp_experiments.translation.artifacts import SHIPPED_MODELS, ShippedModel

# --- shared helpers ----------------------------------------------------------------------------------------------


def shipped_classifier(sha256: str) -> Path:
    """The shipped MNIST classifier weights with this sha256 (the one a record was measured with)."""
    from vae_diffusion.core.artifacts import sha256_file

    for weights in sorted((REPO_ROOT / "artifacts" / "mnist_classifier").glob("v*/model.safetensors")):
        if sha256_file(weights) == sha256:
            return weights
    raise DataError(f"no shipped classifier under artifacts/mnist_classifier has the sha256 {sha256} the record "
                    f"was measured with")


def _classifier_of(env: VerifyEnv, record: dict):
    from vae_diffusion.core.classifier import load_classifier

    sha256 = record["classifier_sha256"]
    return env.shared(("classifier", sha256), lambda: load_classifier(shipped_classifier(sha256), env.device))


# --- translation ---------------------------------------------------------------------------------------------------

NMT_RECORD = "nmt/curves.json"
NMT_QUICK_SENTENCES = 100
NMT_BEAM = 5


def pivot_directions(model: str) -> tuple[str, ...]:
    """The directions the curves record scores ``model`` on through English (its system ``pivot_name(model)``):
    the de<->fr directions it was not trained on whose two legs through English it was trained on. The
    English-centric model without de-fr data has both; the model with de-fr data and the bilingual ones none."""
    from nlp_experiments.translation.languages import MODEL_PAIRS, PIVOT_DIRECTIONS, PIVOT_LANG, split_run_name

    pairs = MODEL_PAIRS[split_run_name(model)[0]]
    return tuple(direction for direction in PIVOT_DIRECTIONS if direction not in pairs
                 and f"{direction.split('-')[0]}-{PIVOT_LANG}" in pairs
                 and f"{PIVOT_LANG}-{direction.split('-')[1]}" in pairs)


def _verified_translation_model(env: VerifyEnv, folder: Path, model: str, shipped: ShippedModel) -> Path:
    """``folder`` checked once a run: its SHA256SUMS and the pinned sha256 of its weights, and its ship.json naming
    the model and update count of the record's key."""
    from nlp_experiments.translation.artifacts import verify_shipped

    def check() -> Path:
        verify_shipped(folder, shipped.sha256)
        record = json.loads((folder / "ship.json").read_text(encoding="utf-8"))
        if (record.get("model"), record.get("updates")) != (model, shipped.updates):
            raise DataError(f"{folder / 'ship.json'}: model {record.get('model')} at {record.get('updates')} "
                            f"updates, not the {model} model at {shipped.updates} updates the record's key names")
        return folder

    return env.shared(("verified", str(folder)), check)


def _test_sentences(env: VerifyEnv, direction: str) -> tuple[list[str], list[str]]:
    """The source and reference sentences of Multi30k test 2016 (Flickr) in ``direction`` (the first
    :data:`NMT_QUICK_SENTENCES` with ``--quick``)."""
    from mvadl.data import read_parallel

    source, target = direction.split("-")
    text = read_parallel("test_2016_flickr", [source, target], root=env.data_dir)
    n = NMT_QUICK_SENTENCES if env.quick else len(text[source])
    return text[source][:n], text[target][:n]


def _translate(env: VerifyEnv, folder: Path, sentences: list[str], source: str, target: str) -> list[str]:
    """``sentences`` translated by the shipped model in ``folder``, one a line (an empty sentence stays empty:
    fairseq-interactive is given only the others)."""
    from nlp_experiments.translation.artifacts import WEIGHTS
    from nlp_experiments.translation.generation import translate_sentences

    kept = [i for i, sentence in enumerate(sentences) if sentence.strip()]
    translated = translate_sentences([sentences[i] for i in kept], target, source, folder / WEIGHTS, folder,
                                     NMT_BEAM, env.device)
    if len(translated) != len(kept):
        raise DataError(f"{folder}: {len(translated)} translations of {len(kept)} sentences ({source}-{target})")
    out = [""] * len(sentences)
    for i, translation in zip(kept, translated):
        out[i] = translation
    return out


def _write_translations(env: VerifyEnv, system: str, direction: str, hypotheses: list[str]) -> list[str]:
    """Keep ``hypotheses`` as ``runs/verify/nmt/SYSTEM/<direction>.txt``, one a line; returns them."""
    from mvadl.io import atomic_write_text

    atomic_write_text(env.workdir / "nmt" / system / f"{direction}.txt", "".join(h + "\n" for h in hypotheses))
    return hypotheses


def _model_translations(env: VerifyEnv, folder: Path, model: str, direction: str) -> list[str]:
    """The shipped model's translations of the test sentences in ``direction``, once a run (the pivot's first
    step reuses them); written to ``runs/verify/nmt/MODEL/<direction>.txt``."""

    def translate() -> list[str]:
        source, target = direction.split("-")
        return _write_translations(env, model, direction,
                                   _translate(env, folder, _test_sentences(env, direction)[0], source, target))

    return env.shared(("nmt translations", str(folder), direction), translate)


def translation_bleu(env: VerifyEnv, folder: Path, record: dict, model: str, shipped: ShippedModel,
                     direction: str) -> float:
    """sacreBLEU BLEU of the shipped ``model`` (its folder verified first) translating Multi30k test 2016 (Flickr)
    in ``direction`` (the raw sentences, fairseq-interactive with the model's SentencePiece model)."""
    from nlp_experiments.translation.metrics import corpus_score

    _verified_translation_model(env, folder, model, shipped)
    hypotheses = _model_translations(env, folder, model, direction)
    return corpus_score("bleu", hypotheses, _test_sentences(env, direction)[1])


def pivot_bleu(env: VerifyEnv, folder: Path, record: dict, model: str, shipped: ShippedModel,
               direction: str) -> float:
    """sacreBLEU BLEU of translating through English with the shipped ``model``, as the curves record's pivot
    system does: source -> en, then en -> target from those translations, both by the shipped model
    (``runs/verify/nmt/MODEL_pivot_en/<direction>.txt``)."""
    from nlp_experiments.translation.languages import PIVOT_LANG, pivot_name
    from nlp_experiments.translation.metrics import corpus_score

    _verified_translation_model(env, folder, model, shipped)
    source, target = direction.split("-")
    english = _model_translations(env, folder, model, f"{source}-{PIVOT_LANG}")
    hypotheses = _write_translations(env, pivot_name(model), direction,
                                     _translate(env, folder, english, PIVOT_LANG, target))
    return corpus_score("bleu", hypotheses, _test_sentences(env, direction)[1])


def nmt_checks(models: Mapping[str, ShippedModel]) -> tuple[Check, ...]:
    """The BLEU checks of the shipped translation ``models`` (:data:`~nlp_experiments.translation.artifacts.
    SHIPPED_MODELS`): for each, every direction it is evaluated on, then its pivot's (:func:`pivot_directions`)."""
    from nlp_experiments.translation.artifacts import shipped_dir
    from nlp_experiments.translation.languages import evaluation_directions, pivot_name

    checks = []
    for model, shipped in models.items():
        folder = shipped_dir(model, shipped.version).relative_to(REPO_ROOT).as_posix()
        for system, directions, recompute in ((model, evaluation_directions(model), translation_bleu),
                                              (pivot_name(model), pivot_directions(model), pivot_bleu)):
            checks += [Check(f"nmt-bleu-{system}-{direction}", "nmt",
                             f"BLEU {direction}, {system}, test 2016 Flickr", folder, NMT_RECORD,
                             f"scores.{system}.{shipped.updates}.test.{direction}.bleu", 0.2,
                             partial(recompute, model=model, shipped=shipped, direction=direction),
                             quick_tolerance=5.0, digits=2)
                       for direction in directions]
    return tuple(checks)


NMT_CHECKS = nmt_checks(SHIPPED_MODELS)


# --- MNIST classifier ----------------------------------------------------------------------------------------------

CLASSIFIER_FOLDER = "artifacts/mnist_classifier/v2"
CLASSIFIER_QUICK_DIGITS = 1000


def classifier_accuracy(env: VerifyEnv, folder: Path, record: dict) -> float:
    """Test accuracy of the shipped classifier (verified against its SHA256SUMS) on the MNIST test digits; the
    record must have been made with the same bytes."""
    import torch

    from vae_diffusion.core.artifacts import sha256_file
    from vae_diffusion.core.classifier import accuracy, load_classifier
    from vae_diffusion.core.images import mnist_split, to_unit_range

    weights = folder / "model.safetensors"
    if sha256_file(weights) != record["classifier_sha256"]:
        raise DataError(f"{weights}: not the weights the record was made with (sha256 {record['classifier_sha256']})")
    images, labels = mnist_split("test", env.data_dir, limit=CLASSIFIER_QUICK_DIGITS if env.quick else None)
    return accuracy(load_classifier(weights, env.device), to_unit_range(images), torch.from_numpy(labels))


CLASSIFIER_CHECKS = (
    Check("classifier-accuracy", "classifier", "MNIST classifier test accuracy", CLASSIFIER_FOLDER,
          "diffusion/classifier.json", "test_accuracy", 0.0005, classifier_accuracy, quick_tolerance=0.01),
)


# --- Q19: text-to-digit model --------------------------------------------------------------------------------------

TEXT_TO_DIGIT_FOLDER = "artifacts/text_to_digit/v1"
Q19_NEGATIVE_PROMPTS = ("white", "gray background", "red")
Q19_QUICK_IMAGES = 10
#: (key in a concept's metrics, what it is, tolerance, decimals).
Q19_NUMBERS = (("shares.concept_without.share", "share showing it without the negative prompt", 0.02, 3),
               ("shares.concept_with.share", "share showing it with the negative prompt", 0.02, 3),
               ("shares.digit_kept.share", "share of digits kept with the negative prompt", 0.02, 3),
               ("mask_iou_mean", "mean stroke-mask IoU of the pairs", 0.01, 3))


def negative_prompt_metrics(env: VerifyEnv, folder: Path, record: dict, negative_prompt: str) -> dict:
    """The negative-prompt study's metrics (``guidance.evaluation.pair_metrics``) of one negative prompt,
    re-sampled from the shipped pipeline with the record's seeds, prompts, scale and steps, and read with the
    classifier the record names. The images without a negative prompt are sampled once for every concept."""
    import numpy as np

    from vae_diffusion.guidance.captions import caption
    from vae_diffusion.guidance.evaluation import (
        experiment_seeds,
        generate,
        load_guided_pipeline,
        pair_metrics,
        read_images,
    )

    def compute() -> dict:
        config = record["config"]
        n = min(Q19_QUICK_IMAGES, record["n_samples"]) if env.quick else record["n_samples"]
        digits = np.arange(n) % 10
        prompts = [config["prompt"] or caption(int(d)) for d in digits]
        concept = lookup(record, f"concepts[negative_prompt={negative_prompt}].concept")
        pipe = env.shared("text_to_digit", lambda: load_guided_pipeline(folder, env.device))
        classifier = _classifier_of(env, record)
        kwargs = dict(seeds=experiment_seeds(config["seed"], n), guidance_scale=record["guidance_scale"],
                      num_inference_steps=config["num_inference_steps"], batch_size=config["batch_size"])
        without = env.shared("q19 without", lambda: generate(pipe, prompts, None, desc="no negative", **kwargs))
        read_without = env.shared("q19 read without", lambda: read_images(without, classifier))
        with_negative = generate(pipe, prompts, negative_prompt, desc=f"negative '{negative_prompt}'", **kwargs)
        return pair_metrics(read_without, read_images(with_negative, classifier), (without, with_negative), digits,
                            concept)[0]

    return env.shared(("q19", negative_prompt), compute)


def _q19_number(env: VerifyEnv, folder: Path, record: dict, negative_prompt: str, key: str) -> float:
    return lookup(negative_prompt_metrics(env, folder, record, negative_prompt), key)


Q19_CHECKS = tuple(
    Check(f"q19-{negative.replace(' ', '-')}-{key.split('.')[1] if '.' in key else key}", "q19",
          f"'{negative}': {what}", TEXT_TO_DIGIT_FOLDER, "guidance/metrics.json",
          f"concepts[negative_prompt={negative}].{key}", tolerance,
          partial(_q19_number, negative_prompt=negative, key=key), quick_tolerance=None, digits=digits)
    for negative in Q19_NEGATIVE_PROMPTS for key, what, tolerance, digits in Q19_NUMBERS)


# --- Q18: DDPM -----------------------------------------------------------------------------------------------------

DDPM_FOLDER = "artifacts/ddpm_mnist/v1"
#: The Q18 subset: (scheduler, steps) cells of the study's grid.
DDPM_CELLS = (("DDIM", 20), ("DPM-Solver++ 2M", 10), ("DPM-Solver++ 2M Karras", 10))
DDPM_QUICK_SAMPLES = 16


def scheduler_cell_fid(env: VerifyEnv, folder: Path, record: dict, scheduler: str, steps: int) -> float:
    """FID of one cell of the scheduler study, re-sampled from the shipped DDPM: the study's initial noise (its
    seed and number of samples), batch size and memory layout, the scheduler config the record gives for that
    scheduler, the first test digits as reference, the classifier the record names."""
    from vae_diffusion.core.images import to_mnist_range
    from vae_diffusion.core.metrics import ClassifierFeatures, FeatureDistances
    from vae_diffusion.diffusion.evaluation import load_unconditional_pipeline, real_digits
    from vae_diffusion.diffusion.sampling import SCHEDULERS, initial_noise, sample_in_batches, unet_denoiser

    study = record["config"]["study"]
    seed = study["seed"]
    n = min(DDPM_QUICK_SAMPLES, record["n_samples"]) if env.quick else record["n_samples"]
    if scheduler not in record["config"]["scheduler_configs"]:
        raise DataError(f"the record has no scheduler {scheduler!r}")
    scheduler_config = record["config"]["scheduler_configs"][scheduler]
    pipeline = env.shared("ddpm", lambda: load_unconditional_pipeline(folder, env.device))
    classifier = _classifier_of(env, record)
    distances = env.shared("ddpm distances", lambda: FeatureDistances(
        ClassifierFeatures(classifier), real_digits("test", n, env.data_dir, check_count=not env.quick)))
    unet = pipeline.unet
    noise = initial_noise(n, (unet.config.in_channels, unet.config.sample_size, unet.config.sample_size), seed)
    denoiser = unet_denoiser(unet, channels_last=study.get("channels_last", False))
    result = sample_in_batches(denoiser, lambda: SCHEDULERS[scheduler][0].from_config(scheduler_config),
                               noise, steps, seed=seed, device=env.device, batch_size=study["batch_size"])
    return distances(to_mnist_range(result.images), seed=seed)["fid"]


DDPM_CHECKS = tuple(
    Check(f"ddpm-fid-{scheduler.lower().replace(' ', '-').replace('+', 'p')}-{steps}", "ddpm",
          f"Q18 FID, {scheduler} at {steps} steps", DDPM_FOLDER, "diffusion/scheduler_metrics.json",
          f"cells[scheduler={scheduler},steps={steps}].fid", 0.05,
          partial(scheduler_cell_fid, scheduler=scheduler, steps=steps), quick_tolerance=None, digits=3)
    for scheduler, steps in DDPM_CELLS)


# --- VAE -------------------------------------------------------------------------------------------------------------

VAE_FOLDER = "artifacts/vae_mnist/v1"
VAE_IS_SAMPLES, VAE_QUICK_IS_SAMPLES = 500, 50
VAE_QUICK_DIGITS = 1000


def _vae_and_test_set(env: VerifyEnv, folder: Path, record: dict):
    """The shipped VAE (its folder verified against its SHA256SUMS) and the record's fixed binarization of the
    test digits (the first ones with ``--quick``)."""
    from vae_diffusion.vae.checkpoint import load_shipped_model
    from vae_diffusion.vae.data import fixed_binarization, pixel_probabilities

    def load():
        model = load_shipped_model(folder)
        probabilities = pixel_probabilities("test", env.data_dir, check_count=not env.quick,
                                            limit=VAE_QUICK_DIGITS if env.quick else None)
        return model.float().to(env.device).eval(), fixed_binarization(probabilities, record["test_binarization_seed"])

    return env.shared("vae", load)


def vae_test_elbo(env: VerifyEnv, folder: Path, record: dict) -> float:
    """Mean test ELBO (one z per digit) with the noise of the recorded run's ``derive_seed(seed, "test_elbo")``."""
    from mvadl.seeding import derive_seed
    from vae_diffusion.vae.likelihood import evaluate_elbo

    model, test = _vae_and_test_set(env, folder, record)
    return evaluate_elbo(model, test, seed=derive_seed(record["seed"], "test_elbo"), device=env.device)["elbo"]


def vae_test_nll(env: VerifyEnv, folder: Path, record: dict) -> float:
    """Mean importance-sampled test NLL with k = :data:`VAE_IS_SAMPLES` (the record's k is larger: the bound is
    looser by a few tenths of a nat), the recorded run's noise seed."""
    from mvadl.seeding import derive_seed
    from vae_diffusion.vae.likelihood import importance_sampled_log_px

    model, test = _vae_and_test_set(env, folder, record)
    k = VAE_QUICK_IS_SAMPLES if env.quick else VAE_IS_SAMPLES
    config = record["config"]
    log_px = importance_sampled_log_px(model, test, k, seed=derive_seed(record["seed"], "importance_sampling"),
                                       batch_size=config["is_batch_size"], chunk_size=min(k, config["is_chunk_size"]),
                                       device=env.device)
    return -log_px.mean().item()


VAE_CHECKS = (
    Check("vae-test-elbo", "vae", "VAE test ELBO (nats)", VAE_FOLDER, "vae/metrics.json", "test_elbo", 0.1,
          vae_test_elbo, quick_tolerance=3.0, digits=2),
    Check("vae-test-nll-is", "vae", f"VAE test NLL, importance-sampled, k = {VAE_IS_SAMPLES} (nats)", VAE_FOLDER,
          "vae/metrics.json", "test_nll_is", 0.5, vae_test_nll, quick_tolerance=None, digits=2),
)

#: Every check, in the order of the table.
CHECKS: tuple[Check, ...] = (*NMT_CHECKS, *CLASSIFIER_CHECKS, *Q19_CHECKS, *DDPM_CHECKS, *VAE_CHECKS)
