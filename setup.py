"""Installable package: the fairseq plugin (fairseq_ext), the translation tools and drivers around it
(nlp_experiments), the image models (vae_diffusion) and the shared data/results layer (mvadl).

Dependencies are installed by scripts/install.sh (torch and fairseq need special handling, see the
README), so ``install_requires`` lists only what pip can resolve on any platform.
"""
from setuptools import find_packages, setup

setup(
    name="mva-dl-assignment",
    version="0.1.0",
    description="Reference implementation of the MVA deep-learning assignment: VAE, diffusion, "
    "multilingual translation and pre/post-norm transformers (fairseq plugins).",
    python_requires=">=3.10",
    packages=find_packages(include=["mvadl*", "fairseq_ext*", "nlp_experiments*", "vae_diffusion*"]),
    install_requires=["numpy", "tqdm", "matplotlib", "sacrebleu>=2.3,<3", "sentencepiece", "scikit-learn"],
)
