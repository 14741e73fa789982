"""Diffusion part (Q11-Q18): a DDPM on MNIST with diffusers, its evaluation and the scheduler study.

Library: ``gaussian_math`` (the closed forms of eq. 23-30), ``unet`` (model/scheduler factory), ``losses`` (the
epsilon-prediction loss), ``sampling`` (manual sampling loop and scheduler registry), ``evaluation`` (what the
evaluations share: options, pipeline loading, real digits, training cost), ``scheduler_variants`` (the
ablation's config variants), ``plots``. The training loop, the MNIST classifier, image conversions and FID/KID
are shared with the guidance part in ``vae_diffusion.core``.

Entry points (``python -m vae_diffusion.diffusion.<name>``, each a config dataclass run by ``mvadl.runner``):
``train`` (DDPM), ``classifier`` (the feature classifier), ``evaluate`` (DDPM metrics), ``scheduler_study``
(Q18), ``scheduler_ablation`` (the config study of its appendix).
"""
