"""The gradient-norm criterion: pure probes, and one real fairseq-train run of the study on tiny generated text."""
import json
import math
import random

import pytest
import torch

from fairseq_ext.criterions.cross_entropy_gradnorm import finite_or_none, flatten_record
from fairseq_ext.criterions.residual_probes import (
    ResidualStreamRecorder,
    jacobian_rms_by_projection,
    relative_update_size,
)


def test_jacobian_probe_is_one_for_identity_and_scale_for_linear():
    torch.manual_seed(0)
    x0 = torch.randn(6, 5, requires_grad=True)
    x1 = 3.0 * x0
    rms = jacobian_rms_by_projection(x1, [x0, x1], num_samples=400, generator=torch.Generator().manual_seed(0))
    assert rms[1] == pytest.approx(1.0, rel=0.05)
    assert rms[0] == pytest.approx(3.0, rel=0.05)


def test_recorder_keeps_inputs_and_last_output():
    layers = torch.nn.ModuleList([torch.nn.Linear(3, 3) for _ in range(3)])
    recorder = ResidualStreamRecorder(layers)
    x = torch.randn(2, 3)
    recorder.start()
    h = x
    for layer in layers:
        h = layer(h)
    streams = recorder.stop()
    assert len(streams) == 4 and streams[0] is x and streams[-1] is h
    layers[0](x)  # inactive: nothing kept
    assert recorder.streams == []


def test_update_size_and_record_flattening():
    assert relative_update_size(torch.ones(4), torch.full((4,), 1.5)) == pytest.approx(0.5)
    flat = flatten_record({"grad_x": [1.0, float("nan")], "ratio_x": 2.0, "jacobian_rms": None})
    assert flat == {"gn_grad_x_00": 1.0, "gn_ratio_x": 2.0}
    assert finite_or_none({"a": [float("inf"), 1.0]}) == {"a": [None, 1.0]}


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny WikiText-2 (10,500 word types: the study's adaptive-softmax cutoffs 2000,10000 need more than
    10,000) binarized and one 6-update run of the 2-layer post-norm LM, both by the study's own code
    (real fairseq-preprocess and fairseq-train subprocesses, one thread each); then the run's record."""
    from mvadl.runner import Context
    from nlp_experiments.prenorm.plan import RunSpec
    from nlp_experiments.prenorm.records import record_run
    from nlp_experiments.prenorm.training import TrainingOptions, binarize_wikitext2, train_run

    root = tmp_path_factory.mktemp("gradnorm_e2e")
    rng = random.Random(0)
    words = [f"w{i}" for i in range(10_500)]
    rng.shuffle(words)
    data = root / "data" / "wikitext-2"
    data.mkdir(parents=True)
    lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    (data / "train.txt").write_text("\n".join(lines) + "\n")
    for split in ("valid", "test"):
        (data / f"{split}.txt").write_text("\n".join(" ".join(rng.choices(words, k=12)) for _ in range(20)) + "\n")
    options = TrainingOptions(runs_dir=str(root / "runs"), data_bin=str(root / "bin"), max_update=6,
                              tokens_per_sample=16, batch_size=4, log_interval=2, probe_interval=4,
                              validate_interval_updates=6, validate_interval=None, max_valid_steps=1)
    assert binarize_wikitext2(str(root / "data"), root / "bin", root / "preprocess.log")
    assert not binarize_wikitext2(str(root / "data"), root / "bin", root / "preprocess.log")  # done once
    run_dir = train_run(options, RunSpec("postnorm", "shallow", "1e-3", 2, 1), "cpu")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESULTS_DIR", str(root / "results"))
        record = record_run(run_dir, Context(config=options, device="cpu"))
    return run_dir, (run_dir / "train.log").read_text(), json.loads(record.read_text())


def test_criterion_writes_one_record_per_interval(trained):
    run_dir, log, _ = trained
    assert json.loads((run_dir / "meta.json").read_text())["exit_code"] == 0, log[-3000:]
    records = [json.loads(line) for line in (run_dir / "gradnorm.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 2, 4]
    for r in records:
        assert len(r["grad_x"]) == 3 and len(r["grad_param"]) == 2  # x_0, x_1, x_2; 2 layers
        assert all(v > 0 and math.isfinite(v) for v in r["grad_x"] + r["grad_param"])
        assert r["ratio_x"] == pytest.approx(r["grad_x"][0] / r["grad_x"][-1])
    assert "update_rel" not in records[0] and len(records[1]["update_rel"]) == 2
    assert records[1]["update_rel_total"] > 0
    assert len(records[0]["jacobian_rms"]) == 3 and "jacobian_rms" not in records[1]
    assert records[0]["jacobian_rms"][-1] == pytest.approx(1.0, rel=0.2)  # d x_L / d x_L = I


def test_criterion_logs_through_fairseq_metrics(trained):
    _, log, _ = trained
    inner = [json.loads(line.split("train_inner | ", 1)[1]) for line in log.splitlines() if "train_inner | " in line]
    assert [int(r["num_updates"]) for r in inner] == [2, 4, 6]
    assert all("gn_ratio_x" in r and "gn_grad_x_00" in r for r in inner)


def test_record_of_a_real_run(trained):
    """The record reads fairseq's own log: the model that was built, the settings it ran with, the losses."""
    _, _, record = trained
    fairseq = record["config"]["fairseq"]
    assert fairseq["model"]["decoder_layers"] == 2 and fairseq["model"]["decoder_normalize_before"] is False
    assert fairseq["model"]["adaptive_softmax_cutoff"] == "2000,10000" and fairseq["model"]["dropout"] == 0.0
    assert fairseq["task"]["tokens_per_sample"] == 16 and fairseq["batch_size"] == 4 and fairseq["lr"] == [1e-3]
    assert fairseq["lr_scheduler"]["_name"] == "polynomial_decay" and fairseq["lr_scheduler"]["warmup_updates"] == 2
    assert record["updates"] == 6 and record["layers"] == 2 and record["tokens_seen"] == 6 * 4 * 16
    assert not record["diverged"] and record["exit_code"] == 0 and 0 < record["final_valid_loss"] < 20
    assert record["config"]["arch"] == "mva_lm_postnorm_shallow" and record["seed"] == 1


def test_adaptive_softmax_loss_equals_fairseq_adaptive_loss(tmp_path):
    """With --adaptive-softmax-cutoff the criterion's loss is fairseq's adaptive_loss (the exact log-likelihood)."""
    from fairseq import options, tasks
    from fairseq.criterions.adaptive_loss import AdaptiveLoss

    import fairseq_ext

    (tmp_path / "dict.txt").write_text("".join(f"w{i} {100 - i}\n" for i in range(40)))
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [str(tmp_path), "--task", "language_modeling", "--user-dir",
                                                fairseq_ext.__path__[0], "--cpu", "--arch", "mva_lm_prenorm_shallow",
                                                "--decoder-embed-dim", "16", "--decoder-ffn-embed-dim", "32",
                                                "--decoder-attention-heads", "2", "--adaptive-softmax-cutoff", "10,25",
                                                "--adaptive-input", "--adaptive-input-cutoff", "10,25",
                                                "--tie-adaptive-weights", "--tie-adaptive-proj", "--dropout", "0",
                                                "--criterion", "mva_cross_entropy_gradnorm"])
    task = tasks.setup_task(args)
    model = task.build_model(args).eval()
    criterion = task.build_criterion(args)
    torch.manual_seed(0)
    tokens = torch.randint(4, 44, (3, 9))
    sample = {"net_input": {"src_tokens": tokens[:, :-1].contiguous(), "src_lengths": torch.full((3,), 8)},
              "target": tokens[:, 1:].contiguous(), "ntokens": 24, "nsentences": 3}
    with torch.no_grad():
        loss, sample_size, _ = criterion(model, sample)
        reference, _, _ = AdaptiveLoss(task, sentence_avg=False)(model, sample)
        # and it is the full-vocabulary cross-entropy of the model's normalized probabilities
        lprobs = model.get_normalized_probs(model(**sample["net_input"]), log_probs=True)
        full = -lprobs.gather(-1, sample["target"].unsqueeze(-1)).sum()
    assert sample_size == 24
    assert float(loss) == pytest.approx(float(reference), rel=1e-5)
    assert float(loss) == pytest.approx(float(full), rel=1e-4)
