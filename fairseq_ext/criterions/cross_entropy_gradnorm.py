"""Cross-entropy that also records per-layer gradient norms of the residual stream (assignment Q22).

Every ``--gradnorm-log-interval`` updates (and at update 0, i.e. at initialization) it records:

* ``grad_x``: ||d loss / d x_l|| for l = 0 ... L (x_l: input of layer l, x_L: output of the last layer),
  from tensor hooks put on x_l in ``forward`` and fired during backward;
* ``grad_param``: ||d loss / d theta_l|| of the parameters of each layer l = 0 ... L-1;
* ``ratio_x`` = grad_x[0] / grad_x[L] and ``ratio_param`` = grad_param[0] / grad_param[L-1]
  (bottom/top ratios; they do not depend on any scaling of the loss);
* ``update_rel``: ||theta_t - theta_{t-1}|| / ||theta_{t-1}|| of each layer and of the whole model,
  for the optimizer step that led to this update;
* every ``--jacobian-probe-interval`` updates, ``jacobian_rms``: the RMS singular value of
  d x_L / d x_l for every l, estimated with random vector-Jacobian products.

Where and how the numbers are read. ``forward`` runs BEFORE backward, so it cannot see gradients.
It only puts hooks on x_l; the hooks fire during ``loss.backward()`` and the last one queues a callback
that runs when the backward pass is over. That callback reads the parameters' ``.grad``, completes the
``logging_output`` dict that ``forward`` returned (the trainer reduces it only after backward, so the
values reach ``reduce_metrics`` -> ``metrics.log_scalar`` -> TensorBoard for the same update) and appends
one JSON line to ``--gradnorm-jsonl``.

Scaling. The loss that is back-propagated is the SUM over the batch's tokens; fairseq divides the
gradients by ``sample_size`` only after backward. All recorded gradient norms are divided by this
forward's ``sample_size``, i.e. they are gradients of the mean per-token loss (in nats). With
``--update-freq`` > 1 the parameter gradients read after a micro-batch hold the sum accumulated so far
in that update. The bottom/top ratios are free of this scaling. The update counter is the number of
training forward passes divided by ``--update-freq`` (it restarts at 0 when training resumes).
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional  # noqa: UP035  (FairseqDataclass fields: fairseq and omegaconf read typing's forms)

import torch
import torch.nn.functional as F
from fairseq.criterions import register_criterion
from fairseq.criterions.cross_entropy import CrossEntropyCriterion, CrossEntropyCriterionConfig
from fairseq.logging import metrics
from omegaconf import II

from fairseq_ext.criterions.residual_probes import (
    ResidualStreamRecorder,
    flat_parameters,
    jacobian_rms_by_projection,
    parameter_gradient_norm,
    relative_update_size,
    safe_ratio,
)

SCALAR_LISTS = ("grad_x", "grad_param", "update_rel", "jacobian_rms")
SCALARS = ("ratio_x", "ratio_param", "update_rel_total")


@dataclass
class CrossEntropyGradNormConfig(CrossEntropyCriterionConfig):
    gradnorm_log_interval: int = field(
        default=10, metadata={"help": "record per-layer gradient norms every N updates (and at update 0)"})
    gradnorm_jsonl: Optional[str] = field(  # noqa: UP045  (fairseq's interpret_dc_type reads typing.Optional)
        default=None, metadata={"help": "append one JSON line per recorded update to this file"})
    jacobian_probe_interval: int = field(
        default=0, metadata={"help": "estimate ||d x_L / d x_l|| every N updates (and at update 0); 0: never"})
    jacobian_probe_samples: int = field(
        default=2, metadata={"help": "random projections per Jacobian estimate"})
    update_freq: List[int] = II("optimization.update_freq")  # noqa: UP006  (as fairseq's own configs)
    seed: int = II("common.seed")


def decoder_layers(model) -> torch.nn.ModuleList:
    """The list of transformer layers of a fairseq (possibly wrapped) decoder-only model."""
    model = getattr(model, "module", model)
    layers = getattr(getattr(model, "decoder", None), "layers", None)
    if layers is None or len(layers) == 0:
        raise ValueError("mva_cross_entropy_gradnorm needs a model with decoder.layers (e.g. transformer_lm)")
    return layers


@register_criterion("mva_cross_entropy_gradnorm", dataclass=CrossEntropyGradNormConfig)
class CrossEntropyGradNormCriterion(CrossEntropyCriterion):
    def __init__(self, task, sentence_avg, gradnorm_log_interval=10, gradnorm_jsonl=None,
                 jacobian_probe_interval=0, jacobian_probe_samples=2, update_freq=(1,), seed=1):
        super().__init__(task, sentence_avg)
        if gradnorm_log_interval < 1:
            raise ValueError("--gradnorm-log-interval must be >= 1")
        self.log_interval = gradnorm_log_interval
        self.jsonl = Path(gradnorm_jsonl) if gradnorm_jsonl else None
        if self.jsonl is not None:
            self.jsonl.parent.mkdir(parents=True, exist_ok=True)
        self.probe_interval = jacobian_probe_interval
        self.probe_samples = jacobian_probe_samples
        self.update_freq = int(update_freq[0]) if update_freq else 1
        self.generator = torch.Generator().manual_seed(int(seed))
        self._train_forwards = 0
        self._recorder: ResidualStreamRecorder | None = None
        self._recorded_layers = None
        self._snapshot: list[torch.Tensor] | None = None  # per-layer parameters before the last step

    # ---------------------------------------------------------------- loss
    def compute_loss(self, model, net_output, sample, reduce=True):
        """Cross-entropy (sum over tokens, in nats); through the adaptive softmax when the model has one.

        With ``--adaptive-softmax-cutoff`` the decoder's output layer is an adaptive softmax (Grave et al.
        2017): the loss is then the exact log-likelihood over the full vocabulary, computed cluster by
        cluster as fairseq's ``adaptive_loss`` does, which is much cheaper than a full 33k-way softmax.
        """
        adaptive_softmax = getattr(getattr(getattr(model, "module", model), "decoder", None),
                                   "adaptive_softmax", None)
        if adaptive_softmax is None:
            return super().compute_loss(model, net_output, sample, reduce=reduce)
        if not reduce:
            raise NotImplementedError("per-token losses through the adaptive softmax are not supported")
        target = model.get_targets(sample, net_output).reshape(-1)
        logits, targets = adaptive_softmax(net_output[0], target)
        loss = net_output[0].new_zeros(())
        for cluster_logits, cluster_target in zip(logits, targets):
            if cluster_target is not None:
                loss = loss + F.cross_entropy(cluster_logits, cluster_target, ignore_index=self.padding_idx,
                                              reduction="sum")
        return loss, loss

    # ---------------------------------------------------------------- forward (before backward)
    def forward(self, model, sample, reduce=True):
        training = model.training and torch.is_grad_enabled()
        if not training:
            return super().forward(model, sample, reduce=reduce)
        step = self._train_forwards // self.update_freq
        first_micro_batch = self._train_forwards % self.update_freq == 0
        self._train_forwards += 1
        layers = decoder_layers(model)
        record_now = first_micro_batch and step % self.log_interval == 0
        snapshot_now = first_micro_batch and (step + 1) % self.log_interval == 0
        update_rel = None
        if record_now and self._snapshot is not None:
            update_rel = [relative_update_size(before, after)
                          for before, after in zip(self._snapshot, parameters_by_layer(model, layers))]
            self._snapshot = None
        if snapshot_now:
            self._snapshot = parameters_by_layer(model, layers)
        if not record_now:
            return super().forward(model, sample, reduce=reduce)

        recorder = self._recorder_for(layers)
        recorder.start()
        try:
            loss, sample_size, logging_output = super().forward(model, sample, reduce=reduce)
        finally:
            streams = recorder.stop()
        if len(streams) != len(layers) + 1:
            raise RuntimeError(f"recorded {len(streams)} residual streams for {len(layers)} layers")
        record = {"step": step, "sample_size": float(sample_size),
                  "loss": float(loss.detach()) / float(sample_size) / math.log(2)}
        if update_rel is not None:
            record["update_rel"], record["update_rel_total"] = update_rel[:-1], update_rel[-1]
        if self.probe_interval and step % self.probe_interval == 0:
            record["jacobian_rms"] = jacobian_rms_by_projection(
                streams[-1], streams, self.probe_samples, generator=self.generator)
        self._hook_backward(streams, layers, float(sample_size), record, logging_output)
        return loss, sample_size, logging_output

    def _recorder_for(self, layers) -> ResidualStreamRecorder:
        if self._recorded_layers is not layers:
            if self._recorder is not None:
                self._recorder.remove()
            self._recorder, self._recorded_layers = ResidualStreamRecorder(layers), layers
        return self._recorder

    # ---------------------------------------------------------------- during / after backward
    def _hook_backward(self, streams, layers, sample_size, record, logging_output) -> None:
        """Put gradient hooks on x_0..x_L; after backward, finish ``record`` and ``logging_output``."""
        grad_x = [None] * len(streams)
        queued = []

        def finish():
            record["grad_x"] = [None if g is None else g / sample_size for g in grad_x]
            record["grad_param"] = [parameter_gradient_norm(layer) / sample_size for layer in layers]
            record["ratio_x"] = safe_ratio(grad_x[0] or 0.0, grad_x[-1] or 0.0)
            record["ratio_param"] = safe_ratio(record["grad_param"][0], record["grad_param"][-1])
            logging_output.update(flatten_record(record))
            if self.jsonl is not None:
                with self.jsonl.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(finite_or_none(record), allow_nan=False) + "\n")

        def make_hook(index):
            def hook(grad):
                grad_x[index] = float(grad.detach().norm())
                if not queued:
                    queued.append(True)
                    torch.autograd.Variable._execution_engine.queue_callback(finish)
            return hook

        for index, x in enumerate(streams):
            if x.requires_grad:
                x.register_hook(make_hook(index))

    # ---------------------------------------------------------------- metrics
    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        CrossEntropyCriterion.reduce_metrics(logging_outputs)
        keys = sorted({k for log in logging_outputs for k in log if k.startswith("gn_")})
        for key in keys:
            values = [log[key] for log in logging_outputs if log.get(key) is not None]
            if values:
                metrics.log_scalar(key, sum(values) / len(values), len(values), round=6)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        # per-layer norms and ratios are averaged over the outputs that hold them, not summed
        return False


def flatten_record(record: dict) -> dict:
    """``{"grad_x": [a, b]}`` -> ``{"gn_grad_x_00": a, "gn_grad_x_01": b}``: one scalar per TensorBoard curve."""
    flat = {}
    for key in SCALAR_LISTS:
        for i, value in enumerate(record.get(key) or []):
            if value is not None and math.isfinite(value):
                flat[f"gn_{key}_{i:02d}"] = value
    for key in SCALARS:
        value = record.get(key)
        if value is not None and math.isfinite(value):
            flat[f"gn_{key}"] = value
    return flat


def finite_or_none(value):
    """The record with every non-finite float replaced by None, so the JSONL stays strict JSON."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def parameters_by_layer(model, layers) -> list[torch.Tensor]:
    """Flat copies of the parameters of each layer, then of the whole model (for relative update sizes)."""
    return [flat_parameters(layer) for layer in layers] + [flat_parameters(model)]
