"""The one runner of every Python experiment: a config dataclass in, a results record out.

An experiment module is thin::

    @dataclass
    class TrainConfig(ExperimentConfig):
        epochs: int = option(80, "total number of training epochs")
        QUICK: ClassVar[dict] = {"epochs": 2}          # what --quick changes (unless given explicitly)

    def run(config: TrainConfig, ctx: Context) -> dict:
        ...                                              # library calls only
        return ctx.record("vae", "metrics", metrics)   # results/vae/metrics.json

    if __name__ == "__main__":
        sys.exit(main(run, TrainConfig, prog="python -m vae_diffusion.vae.train", doc=__doc__))

:func:`main` does, once for every experiment: the command line from the dataclass (:func:`tyro.cli`), ``--quick``
overrides, logging, the global seeds, the device, where outputs go, and the error boundary: the project's data
errors (:class:`mvadl.data.DataError`) become one line ``error: <file>: <problem>`` and exit status 1; anything
else is a bug and keeps its traceback.

Where outputs go (:func:`mvadl.results.results_dir`; nothing else renames or redirects them): only a reference
run, ``--reference`` (the reproduce scripts pass it), writes the committed records in ``results/``, and it refuses
to start, in one line, from a tree with uncommitted changes unless ``--allow-dirty``; a ``--quick`` run writes
``runs/quick/results``; any other run, ``runs/results``. The run's last line names the folders it recorded into.

The command line, as tyro makes it from the fields' annotations: ``--batch-size 64`` for ``batch_size: int``;
``--figures`` / ``--no-figures`` for a ``bool``; ``--points 1600 3200`` for a ``list[int]``; ``--snr-gamma None``
for an ``X | None`` field; a ``Literal[...]`` field takes one of its values; a ``tyro.conf.Positional`` field
is a bare word (``train zeroshot``). ``--help`` lists every option with its default. Values are checked before
anything is loaded: a value of the wrong type, and a ``ValueError`` from the config's ``__post_init__``, are a
usage error (the message on stderr, exit status 2).
"""
from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import tyro

from mvadl.results import RunKind, describe_device, git_revision, recording_run, reference_refusal, write_results
from mvadl.seeding import derive_seed, numpy_generator, seed_everything, torch_generator

logger = logging.getLogger(__name__)


#: The default of an option the user must give (``option(REQUIRED, "...")``).
REQUIRED: Any = dataclasses.MISSING


def option(default: Any, help: str) -> Any:
    """A config field with its ``--help`` text (the ``help`` key of the field's metadata, which tyro reads).

    How the option parses comes from the field's annotation: ``Literal["a", "b"]`` for choices, ``X | None`` to
    accept ``None``, ``list[X]`` for several values, ``tyro.conf.Positional[X]`` for a bare word. A
    :data:`REQUIRED` field has no default (keyword-only, so it may follow fields that have one).
    """
    if default is REQUIRED:
        return field(metadata={"help": help}, kw_only=True)
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class ExperimentConfig:
    """Options every experiment has. Subclasses add theirs (with defaults) and declare ``QUICK``."""

    seed: int = option(0, "seed of the run; every random stream is derived from it")
    device: str = option("auto", "'auto' (the GPU when torch sees one), 'cpu', 'cuda' or 'cuda:N'")
    quick: bool = option(False, "smoke run of the same code path in about a minute (see QUICK); records go to "
                                "runs/quick/results")
    reference: bool = option(False, "a reference run: records into the committed results/ (what the reproduce "
                                    "scripts do), from a tree without uncommitted changes; without it, records go "
                                    "to runs/results")
    allow_dirty: bool = option(False, "let a --reference run start from a tree with uncommitted changes (its "
                                      "records then name the '-dirty' revision)")

    #: Field values that ``--quick`` sets, unless the same option is given on the command line.
    QUICK: ClassVar[dict] = {}

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class ToolConfig:
    """Base of a command that is not an experiment (no seed, no device): data fetching, the report."""

    QUICK: ClassVar[dict] = {}

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


Config = TypeVar("Config", ExperimentConfig, ToolConfig)


def setup_logging(level: int = logging.INFO) -> None:
    # force: a library imported earlier (fairseq) may already have configured the root logger at DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True,
                        datefmt="%H:%M:%S")


def resolve_device(name: str = "auto"):
    """``torch.device(name)``; ``"auto"`` is the GPU when torch sees one (TF32 matmuls allowed), else the CPU."""
    import torch

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


#: ``Context.record(seed=NO_SEED)``: the recorded run used no random seed (the record says ``null``).
NO_SEED = object()


@dataclass
class Context:
    """What a running experiment gets besides its config: device, seeds, clock and the results record."""

    config: Any
    device: Any
    started: float = field(default_factory=time.perf_counter)
    #: The code's revision when the run started: a long run's record names the code that ran, not the tree's
    #: state when it finishes.
    revision: str = field(default_factory=git_revision)
    #: The records written so far (:meth:`record`), for the run's last line.
    written: list = field(default_factory=list)

    def seed(self, *keys: object) -> int:
        """The seed of the stream ``keys`` (:func:`mvadl.seeding.derive_seed` of the run's seed)."""
        return derive_seed(self.config.seed, *keys)

    def torch_generator(self, *keys: object, device: Any = "cpu"):
        return torch_generator(self.config.seed, *keys, device=device)

    def numpy_generator(self, *keys: object):
        return numpy_generator(self.config.seed, *keys)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def record(self, part: str, name: str, metrics: Mapping[str, Any], *, config: Any = None,
               wall_time_s: float | None = None, seed: int | None | object = None,
               device: str | None = None) -> Path:
        """Write ``<results>/<part>/<name>.json`` (:func:`mvadl.results.results_dir`: ``results/`` for a
        reference run, ``runs/quick/results`` for a ``--quick`` run, else ``runs/results``) with the config,
        metrics, seed, device, wall time and the revision the run started from.
        The one way an experiment writes a record.

        The defaults describe the whole run (its config, seed, device and time so far); a run that records
        parts of itself separately (one fairseq run of a study, say) gives that part's own; ``seed=NO_SEED``
        records ``null`` for a run that drew nothing at random (never the unused default 0).
        """
        if seed is None:
            seed = getattr(self.config, "seed", None)
        path = write_results(part, name, config=self.config.as_dict() if config is None else config,
                             metrics=metrics, seed=None if seed is NO_SEED else seed,
                             wall_time_s=self.elapsed() if wall_time_s is None else wall_time_s,
                             device=describe_device(self.device) if device is None else device,
                             quick=getattr(self.config, "quick", False), revision=self.revision)
        self.written.append(path)
        return path


def _asks_quick(argv: Sequence[str]) -> bool:
    """Whether the command line turns ``--quick`` on: the last of ``--quick`` / ``--no-quick`` before ``--``."""
    flags = [a for a in itertools.takewhile(lambda a: a != "--", argv) if a in ("--quick", "--no-quick")]
    return bool(flags) and flags[-1] == "--quick"


def _quick_defaults(config_cls: type[Config]) -> Config:
    """The defaults ``--quick`` parses against: a bare instance holding only the ``QUICK`` values (tyro takes
    every other default from the fields). Not constructed, so ``__post_init__`` judges only the final values."""
    unknown = set(config_cls.QUICK) - {f.name for f in dataclasses.fields(config_cls)}
    if unknown:
        raise TypeError(f"{config_cls.__name__}.QUICK names unknown fields {sorted(unknown)}")
    defaults = object.__new__(config_cls)
    for name, value in config_cls.QUICK.items():
        object.__setattr__(defaults, name, copy.deepcopy(value))
    return defaults


def parse_config(config_cls: type[Config], argv: Sequence[str | Path] | None = None, prog: str | None = None,
                 doc: str | None = None) -> Config:
    """The config of a command line (:func:`tyro.cli`): the fields' defaults, then ``QUICK`` when ``--quick``
    is given, then the options given. A bad value, or a ``ValueError`` from the config's ``__post_init__``, is
    a usage error: its message on stderr and ``SystemExit(2)``."""
    argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    quick = {"default": _quick_defaults(config_cls)} if _asks_quick(argv) else {}
    return tyro.cli(config_cls, args=argv, prog=prog, description=inspect.cleandoc(doc or config_cls.__doc__ or ""),
                    **quick)


def run_kind(config: Any) -> RunKind | None:
    """What a run of ``config`` is, for where it writes: None for a tool (it reads and writes ``results/``)."""
    if not isinstance(config, ExperimentConfig):
        return None
    return "quick" if config.quick else "reference" if config.reference else "development"


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def records_line(kind: RunKind, written: Sequence[Path]) -> str:
    """The run's last line: the folders it recorded into, and why there."""
    folders = sorted({_shown(Path(p).parent) for p in written})
    why = {"reference": "a reference run", "quick": "a --quick run",
           "development": "a development run; --reference records into results/"}[kind]
    if os.environ.get("RESULTS_DIR"):
        why = f"{why}, in $RESULTS_DIR"
    return f"records: {', '.join(folders)} ({why})"


def main(run: Callable[[Config, Context], Any], config_cls: type[Config], argv: list[str] | None = None, *,
         prog: str | None = None, doc: str | None = None) -> int:
    """Parse, set up, ``run(config, ctx)`` and turn data errors into one line. Returns the exit status.

    A reference run that may not start (:func:`mvadl.results.reference_refusal`) stops before anything runs, with
    one line and exit status 1; ``--reference`` with ``--quick`` is a usage error (status 2).
    """
    from mvadl.data.errors import DataError

    config = parse_config(config_cls, argv, prog, doc)
    kind = run_kind(config)
    if kind == "quick" and config.reference:
        print("error: --reference and --quick exclude each other (a quick run records into runs/quick/results)",
              file=sys.stderr)
        return 2
    setup_logging()
    if hasattr(config, "seed"):
        seed_everything(config.seed)
    ctx = Context(config=config, device=resolve_device(config.device) if hasattr(config, "device") else None)
    if kind == "reference" and (refusal := reference_refusal(ctx.revision, config.allow_dirty)):
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    try:
        with recording_run(kind):
            status = run(config, ctx)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if kind is not None and ctx.written:
        print(records_line(kind, ctx.written), file=sys.stderr)
    return status if isinstance(status, int) and not isinstance(status, bool) else 0
