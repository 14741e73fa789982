"""Bare words on the command line (``train zeroshot``, ``translate --to fr "Ein Hund ."``) for the runner.

The runner (:mod:`mvadl.runner`) makes one ``--option`` per config field; the translation commands the README
shows also take a bare word (the model to train, the sentences to translate). :func:`bare_words_as` moves
them behind their option before the runner parses the line, so both forms mean the same.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence

from mvadl.runner import ExperimentConfig


def _option_kinds(config_cls: type[ExperimentConfig]) -> dict[str, str]:
    """``{"--flag": "flag" | "value" | "values"}`` for every field of ``config_cls``."""
    kinds = {}
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        tp = hints[f.name]
        if typing.get_origin(tp) in (typing.Union, types.UnionType):  # Optional[X] -> X
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        flag = "--" + f.name.replace("_", "-")
        if tp is bool:
            kinds[flag] = kinds["--no-" + flag[2:]] = "flag"
        else:
            kinds[flag] = "values" if typing.get_origin(tp) in (list, tuple) else "value"
    return kinds


def bare_words_as(option: str, config_cls: type[ExperimentConfig], argv: Sequence[str]) -> list[str]:
    """``argv`` with its bare words (not options, not option values) moved behind ``option`` at the end.

    ``bare_words_as("--model", TrainConfig, ["zeroshot", "--seed", "2"])`` is ``["--seed", "2", "--model",
    "zeroshot"]``. An option may be abbreviated as argparse allows (``--from`` for ``--from-lang``); ``--``
    ends the options.
    """
    kinds = _option_kinds(config_cls)
    options, bare = [], []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            bare += argv[i + 1:]
            break
        if not token.startswith("-") or token == "-":
            bare.append(token)
            i += 1
            continue
        options.append(token)
        name = token.split("=", 1)[0]
        matches = [flag for flag in kinds if flag == name] or [flag for flag in kinds if flag.startswith(name)]
        kind = kinds[matches[0]] if len(matches) == 1 and "=" not in token else "flag"
        i += 1
        if kind == "value" and i < len(argv):
            options.append(argv[i])
            i += 1
        elif kind == "values":
            while i < len(argv) and not argv[i].startswith("-"):
                options.append(argv[i])
                i += 1
    return options + ([option, *bare] if bare else [])
