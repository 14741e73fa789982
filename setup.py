"""Installable package: the fairseq plugin (fairseq_ext), the translation tools and drivers around it
(nlp_experiments), the image models (vae_diffusion) and the shared data/results layer (mvadl).

This file is the project's one dependency list. ``scripts/install.sh`` installs it with
``pip install -e ".[test,report]"`` after the two packages pip cannot resolve on its own (README, "What the
install script does, and why"): torch/torchvision (a build for the machine, ``TORCH_SPEC``) and fairseq
(``fairseq-fixed``, built without its dependencies; what it really needs is listed below).
"""
from setuptools import find_packages, setup

#: What fairseq-fixed needs for text tasks (it is installed with --no-deps, see scripts/install.sh).
FAIRSEQ_NEEDS = ["hydra-core==1.3.2", "omegaconf==2.3.0", "cffi", "regex", "bitarray", "packaging"]

#: Exact versions where results depend on the library's behaviour: diffusers' schedulers and pipelines,
#: accelerate's checkpoints, the tokenizer, scikit-learn's n-gram counting behind the saved language profile,
#: and sacreBLEU, whose private functions the paired bootstrap calls (mvadl/verdicts.py).
RUNTIME = [
    "torch>=2.1",
    "torchvision>=0.16",
    "numpy",
    "diffusers==0.42.1",
    "transformers==5.23.0",
    "accelerate==1.15.0",
    "scikit-learn==1.9.1",
    "safetensors",
    "tokenizers",
    "sacrebleu==2.6.0",
    "sentencepiece>=0.1.99",
    "matplotlib>=3.7",
    "pillow",
    "scipy>=1.10",
    "torchmetrics>=1.4",
    "tensorboard>=2.14",
    "tensorboardX>=2.6",
    "tqdm>=4.60",
    "pooch>=1.8,<2",
    "tyro==1.0.17",  # every entry point's command line (mvadl.runner); its spellings are tested
    *FAIRSEQ_NEEDS,
]

EXTRAS = {
    "test": ["pytest>=7", "ruff>=0.6"],
    # make report: Markdown + LaTeX math -> Typst -> PDF (pandoc's citeproc formats the references), pages counted
    "report": ["jinja2>=3.1", "pypandoc-binary>=1.13", "typst>=0.11", "pypdf>=4"],
}

setup(
    name="mva-dl-assignment",
    version="0.1.0",
    description="Reference implementation of the MVA deep-learning assignment: VAE, diffusion, "
    "multilingual translation and pre/post-norm transformers (fairseq plugins).",
    python_requires=">=3.10",
    packages=find_packages(include=["mvadl*", "fairseq_ext*", "nlp_experiments*", "vae_diffusion*"]),
    install_requires=RUNTIME,
    extras_require=EXTRAS,
)
