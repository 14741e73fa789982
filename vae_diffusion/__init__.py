"""Image generative models of the project: the VAE on binarized MNIST (``vae``), the diffusion experiments built
on diffusers (``diffusion``), text-guided diffusion (``guidance``), and what they share (``core``: the training
loop, the MNIST classifier, FID/KID, images, pipeline loading, shipped artefacts).

Entry points of this package itself (``python -m vae_diffusion.<name> --help``): ``ship`` (a trained image model
as a versioned artefact under ``artifacts/``) and ``speed`` (one training step of each image model timed in fp32,
bf16 autocast and channels_last); each subpackage lists its own.
"""
