"""Reading sweep YAML, bounded: a size cap before parsing and an alias-expansion cap (an alias bomb).
YAML 1.2 floats (`1e-5` is a float, not the YAML 1.1 string) unless asked for YAML 1.1, as `wandb sweep`
reads it. Errors are `SearchSpaceError`s naming the file and line.

Apart from parse.py so that a command reading a space stored as JSON (the knowledge cache's
search_space.json) does not import PyYAML (~20 ms of a `recommend`'s start-up); search_space.py
imports this module where it reads YAML. Tested through tests/space/test_search_space.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from metallmix_wandb.space.parse import SearchSpaceError

MAX_YAML_BYTES = 1_000_000
"""A sweep YAML is a few KB; a bigger file is refused before it is parsed."""
MAX_YAML_NODES = 100_000
"""Nodes a YAML document may hold once its aliases are expanded (a 300-byte alias bomb holds millions)."""


class YamlTooBigError(yaml.YAMLError):
    """A YAML document past MAX_YAML_BYTES or, aliases expanded, MAX_YAML_NODES."""


def _expanded_size(root: yaml.Node) -> int:
    """Nodes in the document as a consumer walking it sees them, each alias counted at every use:
    memoised per node, so a bomb is measured in time linear in its text, not its expansion."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_:
            raise YamlTooBigError("a recursive alias (a node that contains itself)")
        open_.add(id(node))
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(n) for n in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_.discard(id(node))
        sizes[id(node)] = total = min(total, MAX_YAML_NODES + 1)
        return total

    return size(root)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses a document whose aliases expand past MAX_YAML_NODES (an alias bomb)."""

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None and _expanded_size(node) > MAX_YAML_NODES:
            raise YamlTooBigError(f"more than {MAX_YAML_NODES:,} values once its aliases are expanded "
                                  "(an alias bomb?)")
        return node


class _Yaml12Loader(_BoundedLoader):
    """SafeLoader that also reads `1e-5` as a float (YAML 1.2), not the YAML 1.1 string."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml_text(text: str, source: str = "<string>", yaml12: bool = True) -> Any:
    """Parse YAML, turning syntax errors into `SearchSpaceError` with file and line; bounded in size
    (MAX_YAML_BYTES) and alias expansion (MAX_YAML_NODES). `yaml12=False`: plain YAML 1.1 (as
    `yaml.safe_load`, what `wandb sweep` reads)."""
    if len(text) > MAX_YAML_BYTES:
        raise SearchSpaceError(source, f"too large ({len(text):,} characters; a sweep YAML is at most "
                                       f"{MAX_YAML_BYTES:,})")
    try:
        loader = _Yaml12Loader if yaml12 else _BoundedLoader
        return yaml.load(text, Loader=loader)  # noqa: S506 - SafeLoader subclasses
    except YamlTooBigError as e:
        raise SearchSpaceError(source, f"refused: {e}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = " ".join(str(p) for p in (e.context, e.problem) if p)
        raise SearchSpaceError(where, f"YAML syntax error: {problem or e}") from None
    except yaml.YAMLError as e:
        raise SearchSpaceError(source, f"YAML error: {e}") from None


def read_yaml_file(path: str | Path, yaml12: bool = True) -> Any:
    """`load_yaml_text` of a file, refusing one past MAX_YAML_BYTES before reading it whole."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_YAML_BYTES:
            raise SearchSpaceError(str(path), f"too large ({size:,} bytes; a sweep YAML is at most "
                                              f"{MAX_YAML_BYTES:,})")
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SearchSpaceError(str(path), f"cannot read: {getattr(e, 'strerror', None) or e}") from None
    return load_yaml_text(text, str(path), yaml12)
