"""Which autocast precision an image training runs with, decided once when the run starts.

On a GPU every model trains with bf16 autocast. On the CPU the choice is the model's own, measured by
``python -m vae_diffusion.speed`` (the table in the supplement): a model whose CPU step is faster in bf16 without
changing its loss curve beyond the spread between seeds declares ``CPU_MIXED_PRECISION = "bf16"`` on its config;
it gets bf16 only where the CPU has native bf16 instructions (:func:`cpu_bf16_support`, detected, never assumed),
else fp32, said in one log line. The choice is stored in the run's config and checkpoints; a resumed run keeps the
stored precision on any machine (:func:`choose_mixed_precision`), so one run never mixes precisions.

The precision a model is *stored* in is another question: :func:`round_to_fp16` gives a model the weights an fp16
``save_pretrained`` would store, so the stored-precision checks (``python -m vae_diffusion.guidance.stored_precision``,
``python -m vae_diffusion.diffusion.stored_precision``) can sample with them in fp32.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

#: The autocast dtype of each accelerate ``mixed_precision`` value (None: no autocast).
AUTOCAST_DTYPES = {"no": None, "bf16": torch.bfloat16, "fp16": torch.float16}
#: CPU flags (Linux /proc/cpuinfo names) of native bf16 matrix instructions, best first.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (empty where ``cpuinfo`` cannot be read, e.g. off Linux)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def cpu_bf16_support(cpuinfo: str | Path = "/proc/cpuinfo") -> str | None:
    """The best native bf16 instruction set of this CPU (``"amx_bf16"`` or ``"avx512_bf16"``) when PyTorch's
    oneDNN backend can use it, else None."""
    if not torch.backends.mkldnn.is_available():
        return None
    flags = cpu_flags(cpuinfo)
    return next((flag for flag in BF16_CPU_FLAGS if flag in flags), None)


def choose_mixed_precision(requested: str | None, device, cpu_choice: str = "no", *, stored: str | None = None,
                           cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The accelerate ``mixed_precision`` of a run.

    ``requested`` (the command's ``--mixed-precision``) wins; then ``stored``, the precision a resumed run
    started with; then bf16 on a GPU; on the CPU ``cpu_choice`` (the model's measured choice), where a bf16
    choice needs :func:`cpu_bf16_support`.
    """
    if requested is not None:
        return requested
    if stored is not None:
        return stored
    if torch.device(device).type == "cuda":
        return "bf16"
    if cpu_choice == "bf16":
        support = cpu_bf16_support(cpuinfo)
        if support is None:
            logger.info("this CPU has no native bf16 instructions (%s): training in fp32",
                        " or ".join(BF16_CPU_FLAGS))
            return "no"
        logger.info("bf16 autocast on the CPU (%s)", support)
        return "bf16"
    return "no"


def round_to_fp16(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with every parameter and buffer rounded to fp16 and stored back in its own dtype (in place)."""
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(tensor.to(torch.float16).to(tensor.dtype))
    return module
