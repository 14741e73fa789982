"""Text-guided diffusion and negative prompts (Q19): a text-to-digit model trained from scratch on captioned
coloured MNIST, and the negative-prompt study.

Library: ``captions`` (rendering and the caption distribution), ``text_encoder`` (tokenizer and encoder),
``model`` (the text-conditioned UNet), ``training`` (the training options and loop set-up), ``pipeline``
(``TextToDigitPipeline``: classifier-free guidance and negative prompts), ``detect`` (reading generated digits
back), ``evaluation`` (the study's pipeline loading, generation and pair metrics), ``plots``. Shared with the
diffusion part: ``vae_diffusion.core`` (training loop, MNIST classifier, images) and the diffusion library
(sampling loop, noise schedule, loss).

Entry points (``python -m vae_diffusion.guidance.<name>``, run by ``mvadl.runner``): ``design`` (the measured
design choices of the model), ``train``, ``progress`` (prompt following along the training), ``stored_precision``
(whether the shipped weights may be fp16), ``negative_prompt`` (the study).
"""
