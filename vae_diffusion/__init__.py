"""Image generative models of the project: the VAE on binarized MNIST (``vae``) and the diffusion
experiments built on diffusers (``diffusion``)."""
