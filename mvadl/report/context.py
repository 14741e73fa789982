"""Results files as the templates see them: ``R.<part>.<name>.<key>...``.

Every JSON file under ``results/<part>/<name>.json`` becomes a read-only tree. A key that is not there
raises :class:`ReportDataError` naming the file and the full key path, so a template that asks for a
number the results do not hold stops the build with one line instead of printing an empty string.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mvadl.data.errors import DataError


class ReportDataError(DataError):
    """A template asked for a results file or key that does not exist (the message names both)."""


def _wrap(value: Any, file: str, path: str) -> Any:
    if isinstance(value, dict):
        return ResultNode(value, file, path)
    if isinstance(value, list):
        return ResultList(value, file, path)
    return value


class ResultNode:
    """A JSON object of one results file; keys are read as attributes (``node.key``) or items (``node["key"]``).

    The node has no public methods, so every results key, including ``keys``, ``items`` or ``values``, reads as
    that key; the module functions :func:`node_keys`, :func:`node_items` and :func:`node_values` (the template
    filters ``keys``, ``items``, ``values``) list a node's content.
    """

    __slots__ = ("_data", "_file", "_path")

    def __init__(self, data: dict, file: str, path: str = ""):
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_file", file)
        object.__setattr__(self, "_path", path)

    def _child_path(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else str(key)

    def __getitem__(self, key: str) -> Any:
        if key not in self._data:
            raise ReportDataError(f"{self._file}: missing key '{self._child_path(key)}'")
        return _wrap(self._data[key], self._file, self._child_path(key))

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):  # Python and Jinja probe dunder/private names; those are not results keys
            raise AttributeError(key)
        return self[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"ResultNode({self._file}:{self._path or '<root>'})"


def node_keys(node: ResultNode) -> list[str]:
    """The keys of a results object, in the file's order."""
    return list(node._data)


def node_items(node: ResultNode) -> list[tuple[str, Any]]:
    """``(key, value)`` pairs of a results object, values wrapped like ``node[key]``."""
    return [(key, node[key]) for key in node._data]


def node_values(node: ResultNode) -> list[Any]:
    """The values of a results object, wrapped like ``node[key]``."""
    return [node[key] for key in node._data]


def plain(value: Any) -> Any:
    """The JSON value behind a node or list (dicts and lists), for Python code that computes derived numbers."""
    if isinstance(value, (ResultNode, ResultList)):
        return value._data
    return value


class ResultList:
    """A JSON array of one results file; an index out of range names the file and the key path."""

    __slots__ = ("_data", "_file", "_path")

    def __init__(self, data: list, file: str, path: str):
        self._data, self._file, self._path = data, file, path

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [_wrap(v, self._file, f"{self._path}[{i}]")
                    for i, v in zip(range(*index.indices(len(self._data))), self._data[index])]
        try:
            value = self._data[index]
        except (IndexError, TypeError):
            raise ReportDataError(f"{self._file}: no element {index!r} in '{self._path}' "
                                  f"(length {len(self._data)})") from None
        return _wrap(value, self._file, f"{self._path}[{index}]")

    def __iter__(self):
        return (self[i] for i in range(len(self._data)))

    def __len__(self) -> int:
        return len(self._data)

    def raw(self) -> list:
        """The plain list (numbers for ``min``/``max``/``sum`` in templates)."""
        return list(self._data)

    def __repr__(self) -> str:
        return f"ResultList({self._file}:{self._path})"


class ResultsTree:
    """``results/`` as ``tree.<part>.<name>``: each JSON file loaded on first use, a missing one named."""

    def __init__(self, root: Path, display_root: str = "results"):
        self._root = Path(root)
        self._display = display_root
        self._cache: dict[tuple[str, str], ResultNode] = {}

    def load(self, part: str, name: str) -> ResultNode:
        key = (part, name)
        if key not in self._cache:
            shown = f"{self._display}/{part}/{name}.json"
            path = self._root / part / f"{name}.json"
            if not path.is_file():
                raise ReportDataError(f"{shown}: missing results file")
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ReportDataError(f"{shown}: not valid JSON ({e})") from None
            if not isinstance(data, dict):
                raise ReportDataError(f"{shown}: expected a JSON object at the top level")
            self._cache[key] = ResultNode(data, shown)
        return self._cache[key]

    def files(self) -> list[str]:
        """The files loaded so far, as ``results/<part>/<name>.json`` (what the report depends on)."""
        return sorted(f"{self._display}/{p}/{n}.json" for p, n in self._cache)

    def __getattr__(self, part: str) -> _Part:
        if part.startswith("_"):
            raise AttributeError(part)
        if not (self._root / part).is_dir():
            raise ReportDataError(f"{self._display}/{part}/: missing results folder")
        return _Part(self, part)

    __getitem__ = __getattr__


class _Part:
    def __init__(self, tree: ResultsTree, part: str):
        self._tree, self._part = tree, part

    def __getattr__(self, name: str) -> ResultNode:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._tree.load(self._part, name)

    __getitem__ = __getattr__
