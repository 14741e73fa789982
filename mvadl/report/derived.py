"""The records of each part arranged for the templates (``DV.<part>``), one function per part: look-ups, ranges
and differences of two recorded values, so that the templates only print. Every comparison is recorded by the
experiment that owns its data (a :class:`mvadl.verdicts.Comparison` from a stated test, or a per-seed summary);
the template prints its verb (the filter ``verdict``) and its interval (``interval``, ``pp``), the filters of
:mod:`mvadl.report.render`.
"""
from __future__ import annotations

import json
import math
from typing import Any

import jinja2

from mvadl.report.context import ReportDataError, ResultNode, ResultsTree, node_items, plain
from mvadl.verdicts import Comparison

# ---------------------------------------------------------------- one function per part


def vae(R: ResultsTree) -> dict[str, Any]:
    """Q2's table: the naive estimate's bias at the first sample count and at the first three powers of ten
    from 100 on, how much ``|bias|`` shrinks from one to the next; Q9's differences of recorded values."""
    M, NMC = R.vae.metrics, R.vae.naive_mc
    L = plain(NMC.models[0].sample_counts)
    decades = [x for x in L if x >= 100 and 10 ** round(math.log10(x)) == x][:3]
    if len(decades) < 3:
        raise ReportDataError(f"results/vae/naive_mc.json: fewer than three powers of ten from 100 on in {L}")
    i_a, i_b, i_c = (L.index(x) for x in decades)
    rows = []
    for m in plain(NMC.models):
        b = m["bias_mean"]
        rows.append({"z_dim": m["z_dim"], "active_units": R.vae[f"naive_mc_z{m['z_dim']}"].active_units,
                     "is_log_px": m["is_log_px_mean"], "bias_first": b[0], "bias_a": b[i_a], "bias_c": b[i_c],
                     "drop_ab": abs(b[i_a]) - abs(b[i_b]), "drop_bc": abs(b[i_b]) - abs(b[i_c]),
                     "std_c": m["noise_std"][i_c]})
    history = plain(M.history)
    back = next(h for h in history if h["epoch"] == history[-1]["epoch"] - 20)
    exp_a, exp_b, exp_c = (round(math.log10(x)) for x in decades)
    return {"L_first": L[0], "exp_a": exp_a, "exp_b": exp_b, "exp_c": exp_c, "rows": rows,
            "by_z": {r["z_dim"]: r for r in rows}, "is_minus_elbo": -M.test_elbo - M.test_nll_is,
            "rise_last_20": history[-1]["test_elbo"] - back["test_elbo"],
            "train_test_gap": history[-1]["train_elbo"] - history[-1]["test_elbo"]}


def _unet_architecture(unet: dict) -> dict[str, Any]:
    """Levels, widths, ResNet blocks and where self-attention sits, read from a diffusers UNet2DModel config."""
    down = unet["down_block_types"]
    levels = [str(i + 1) for i, t in enumerate(down) if "Attn" in t]
    places = [f"level{'s' if len(levels) > 1 else ''} {', '.join(levels)}"] if levels else []
    if unet.get("add_attention", True) and unet["mid_block_type"] == "UNetMidBlock2D":
        places.append("the middle block")
    return {"widths": unet["block_out_channels"], "layers_per_block": unet["layers_per_block"],
            "levels": len(down), "attention": " and ".join(places) or "nowhere", "head_dim": unet["attention_head_dim"]}


def diffusion(R: ResultsTree) -> dict[str, Any]:
    """Q18: cells by scheduler and steps, ranges over the ODE solvers, lowest FID per row, the two ancestral
    samplers' FID gap per step count; the DDPM's architecture and its FID above the real-vs-real floor."""
    S, D = R.diffusion.scheduler_metrics, R.diffusion.ddpm_metrics
    order, steps = plain(S.config.study.schedulers), plain(S.config.study.steps)
    stochastic = [k for k, v in node_items(S.metrics.stochastic) if v]
    ode = [s for s in order if s not in stochastic]
    cells = {(c["scheduler"], c["steps"]): c for c in plain(S.metrics.cells)}
    lo, hi = steps[0], steps[-1]

    def span(names, points, key):
        values = [cells[(s, n)][key] for s in names for n in points]
        return {"min": min(values), "max": max(values)}

    return {
        "order": order, "steps": steps, "lo": lo, "hi": hi, "cells": {f"{s}@{n}": c for (s, n), c in cells.items()},
        "best": {n: min(order, key=lambda s: cells[(s, n)]["fid"]) for n in steps},
        "rms_ode_lo": span(ode, [lo], "rms_to_reference"), "rms_ode_hi": span(ode, [hi], "rms_to_reference"),
        "rms_stochastic": span(stochastic, steps, "rms_to_reference"), "fid_ode_hi": span(ode, [hi], "fid"),
        "kid_ode_hi": span(ode, [hi], "kid"), "fid_all_lo": span(order, [lo], "fid"),
        "ddpm_vs_ancestral": {n: abs(cells[("DDPM", n)]["fid"] - cells[("Euler Ancestral", n)]["fid"]) for n in steps},
        "unet": _unet_architecture(plain(D.config.unet)),
        "ddpm_clips": bool(S.config.scheduler_configs["DDPM"].clip_sample),
        "fid_above_floor": D.metrics.fid - D.metrics.fid_real_vs_real,
    }


# ---------------------------------------------------------------- Q19 (guidance)

#: The keys of a stored ``Comparison.as_dict()``.
_COMPARISON = {"a", "b", "difference", "low", "high", "p_value", "test", "n"}


def _tested(value: Any) -> Any:
    """``value`` with every stored comparison as a :class:`Comparison` (a None, where no test ran, stays)."""
    if isinstance(value, dict):
        return Comparison.from_dict(value) if _COMPARISON <= value.keys() else {k: _tested(v) for k, v in value.items()}
    return [_tested(v) for v in value] if isinstance(value, list) else value


def guidance(R: ResultsTree) -> dict[str, Any]:
    """Q19: the metrics of the study (``metrics``), of the more-red model (``more_red``) and of the stored-precision
    check (``precision``), their comparisons as objects for the filters; ``side_effects``: per concept, its
    negative prompt's tested colour changes other than the concept's own, as rows for ``by_verdict``;
    ``figures``: per concept, the images its figure shows (``by_concept``: chosen as those showing the concept
    without the negative prompt; else the study's first images) and how many show it without and with."""
    M, X, P = (ResultNode(_tested(plain(node.metrics)), node._file, "metrics")
               for node in (R.guidance.metrics, R.guidance.more_red, R.guidance.stored_precision))
    side_effects = [[{"colour": name, "last": c} for name, c in node_items(concept.colour_comparisons)
                     if c is not None and name != f"{concept.concept} {concept.concept_kind}"]
                    for concept in M.concepts]
    figures = [{"images": shown, "by_concept": "figure_images" in c, **{side: sum(
        plain(c.per_image[f"concept_{side}"])[i] for i in shown) for side in ("without", "with")}}
        for c, shown in ((c, plain(c.figure_images if "figure_images" in c else M.figure_images)) for c in M.concepts)]
    return {"metrics": M, "more_red": X, "precision": P, "side_effects": side_effects, "figures": figures}


# ---------------------------------------------------------------- section 3 (translation)


def _tests(compared: list[dict]) -> dict[str, dict[str, dict[str, dict[int, dict[str, Comparison]]]]]:
    """``tests[kind][direction][label][updates]``: see :func:`translation`."""
    tests: dict = {}
    for c in compared:
        label = c["a"]["system"] if c["kind"] in ("multilingual_vs_bilingual", "seeds") else ""
        tests.setdefault(c["kind"], {}).setdefault(c["direction"], {}).setdefault(label, {})[c["b"]["updates"]] = {
            metric: Comparison.from_dict(c[metric]) for metric in ("bleu", "chrf")}
    return tests


def _rows(tests: dict, kind: str, columns: list[int]) -> list[dict[str, Any]]:
    """One row per direction and label of ``kind``: its BLEU comparisons at ``columns`` and at the last one."""
    return [{"kind": kind, "direction": direction, "system": label,
             "cells": [cells.get(u, {}).get("bleu") for u in columns],
             "last": cells[columns[-1]]["bleu"] if columns[-1] in cells else None}
            for direction, by_label in tests.get(kind, {}).items() for label, cells in by_label.items()]


def _repeat(C: ResultNode, every: list[dict]) -> dict[str, Any] | None:
    """The runs of another training seed as the comparisons record describes them (``other_seeds``; None without
    any), with their ``seeds`` and multilingual-vs-bilingual rows (``spread``, ``vs_bilingual``), each labelled
    with the reference ``model`` its system repeats, and where its verdicts differ from the reference seed's
    (``disagree``, ``agree_last``)."""
    others = plain(C.other_seeds)
    if not others:
        return None
    if len(others) > 1:
        raise ReportDataError(f"results/nmt/comparisons.json: runs of several other seeds "
                              f"({[o['seed'] for o in others]}); the report describes one")
    repeat, tests = others[0], _tests([c for c in every if c["seed"] == others[0]["seed"]])
    spread, vs_bilingual = (sorted(({**r, "model": repeat["systems"][r["system"]]}
                                    for r in _rows(tests, kind, repeat["points"])),
                                   key=lambda r: (r["model"], r["direction"]))
                            for kind in ("seeds", "multilingual_vs_bilingual"))
    verdicts = repeat["verdicts"].get("multilingual_vs_bilingual", {"differ": [], "agree_at_last": True})
    return {**repeat, "spread": spread, "vs_bilingual": vs_bilingual, "agree_last": verdicts["agree_at_last"],
            "disagree": [{**d, "reference": Comparison.from_dict(d["reference"]),
                          "repeat": Comparison.from_dict(d["repeat"])} for d in verdicts["differ"]]}


def translation(R: ResultsTree) -> dict[str, Any]:
    """Section 3: the comparisons of the reference training seed (``comparisons.json``) as rows per kind and
    direction (:func:`_rows`; ``tests[kind][direction][label][updates]`` holds a :class:`Comparison` per metric,
    ``updates`` those of the second system); the curves' points (``curves.json``), ``last`` the last one and
    ``at_last`` the scores there; ``repeat``: :func:`_repeat`; ``examples``: the sentences of ``examples.json``
    (None without it). What the records summarize themselves (the curves' ``rising`` and ``zero_shot``, the
    comparisons' ``seed_spread``) the templates read from them."""
    curves_record, C = R.nmt.curves.metrics, R.nmt.comparisons.metrics
    reference_seed = curves_record.reference_seed
    seeds = plain(curves_record.training_seeds)
    curves = {system: scores for system, scores in plain(curves_record.scores).items()
              if seeds[system] == reference_seed}
    every = plain(C.comparisons)
    tests = _tests([c for c in every if c["seed"] == reference_seed])
    points = sorted(int(u) for u in curves["direct"])
    last = points[-1]
    equal_points = sorted({u for by_label in tests.get("equal_compute", {}).values()
                           for cells in by_label.values() for u in cells})
    pivot, direct_vs_zeroshot = _rows(tests, "direct_vs_pivot", points), _rows(tests, "direct_vs_zeroshot", points)
    bilingual = {system: max(int(u) for u in by_updates) for system, by_updates in curves.items()
                 if system.startswith("bilingual_")}
    # examples.json is written by its own command (nlp_experiments.translation.examples), not by make reproduce
    examples = R.nmt.examples.metrics if (R._root / "nmt" / "examples.json").is_file() else None
    return {
        "points": points, "last": last,
        "at_last": {system: by_updates[str(last)]["test"] for system, by_updates in curves.items()
                    if str(last) in by_updates},
        "rows": pivot + direct_vs_zeroshot,
        "bilingual_rows": _rows(tests, "multilingual_vs_bilingual", points),
        "equal_points": equal_points,
        "equal_rows": _rows(tests, "equal_compute", equal_points) if equal_points else [],
        "pivot": {r["direction"]: r for r in pivot},
        "direct_vs_zeroshot": {r["direction"]: r for r in direct_vs_zeroshot},
        "bilingual_last": {system: {"updates": u, "test": curves[system][str(u)]["test"]}
                           for system, u in sorted(bilingual.items())},
        "test": C.test,
        "all": [{**c, "bleu": Comparison.from_dict(c["bleu"]), "chrf": Comparison.from_dict(c["chrf"])}
                for c in every],
        "holm": any(c["bleu"].get("p_holm") is not None for c in every),
        "examples": [{"direction": examples.direction, "source": e.source, "reference": e.reference,
                      "outputs": [{"system": system, "name": curves_record.system_names[system], "text": o.text,
                                   "language": o.language} for system, o in node_items(e.outputs)]}
                     for e in examples.examples] if examples else None,
        "repeat": _repeat(C, every),
    }


def provenance(R: ResultsTree) -> list[dict[str, Any]]:
    """One row per results record (every JSON file under the results folder that names its run's revision): its
    path under the results folder, revision (7 digits, "-dirty" kept), device, wall time, creation date."""
    rows = []
    for path in sorted(R._root.rglob("*.json")):
        name = path.relative_to(R._root).as_posix()
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ReportDataError(f"{R._display}/{name}: not valid JSON") from None
        if not isinstance(record, dict) or "git_revision" not in record:
            continue
        revision = str(record["git_revision"])
        rows.append({"file": name, "revision": "unknown" if revision == "unknown" else
                     revision[:7] + ("-dirty" if revision.endswith("-dirty") else ""),
                     "device": record.get("device"), "wall_time_s": record.get("wall_time_s"),
                     "created": str(record.get("created_utc") or "")[:10]})
    return rows


PARTS = {"vae": vae, "diffusion": diffusion, "guidance": guidance, "translation": translation,
         "provenance": provenance}


class Derived:
    """The view of every part (``DV.<part>``, :data:`PARTS`), each built on first use (a template that does not
    need a part does not read its files)."""

    def __init__(self, tree: ResultsTree):
        self._tree, self._parts = tree, {}

    def __getattr__(self, part: str) -> Any:
        if part.startswith("_") or part not in PARTS:
            raise AttributeError(part)
        if part not in self._parts:
            self._parts[part] = PARTS[part](self._tree)
        return self._parts[part]


def _in_words(names: str):
    """A filter naming a system (``system_names``) or a data set (``data_set_names``) in words, as the curves
    record does: a name the record lacks stops the build with one line naming the record and key."""
    return jinja2.pass_context(lambda context, key: context["R"].nmt.curves.metrics[names][key])


FILTERS = {"system": _in_words("system_names"), "split": _in_words("data_set_names")}
