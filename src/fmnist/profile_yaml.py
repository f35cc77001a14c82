"""A profile's YAML, read safely: a file or a `--set` value is UTF-8 text that YAML's safe
loader reads, without anchors or aliases, nested no deeper and no larger than a profile ever is,
naming no key twice; anything else is a `ParamsError` naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fmnist.schema import ParamsError

# Bounds on what a profile may be, checked on YAML's event stream before anything is built: a
# profile is a few hundred bytes of flat sections, so these refuse only input made to exhaust
# memory or time (an alias "bomb", nesting that exhausts the composer's recursion, a megabyte
# number whose conversion is quadratic).
MAX_PROFILE_BYTES = 256 * 1024
MAX_DEPTH = 8  # a profile's deepest value is a list of lists (tuning.space.filters): depth 5
MAX_SCALAR = 4096  # characters: a long folder path fits
MAX_NUMBER = 20  # characters of a plain number: a seed up to 2**64 fits
_NUMBER = re.compile(r"[-+]?[\d_.eE]+")


def check_shape(text: str) -> None:
    """Refuse aliases and anchors, deep nesting and huge scalars, naming the line."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise ParamsError(f"a YAML anchor or alias (`&name`, `*name`) on line {line}: a "
                              "profile writes every value out; repeat it instead.")
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ParamsError(f"nesting deeper than {MAX_DEPTH} levels on line {line}: no "
                                  "key of a profile takes more than a list of lists.")
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
        elif isinstance(event, yaml.ScalarEvent):
            _check_scalar(event, line)


def _check_scalar(event: yaml.ScalarEvent, line: int) -> None:
    if len(event.value) > MAX_SCALAR:
        raise ParamsError(f"a value of {len(event.value):,} characters on line {line}: no key "
                          f"of a profile takes more than {MAX_SCALAR:,}.")
    if event.style is None and len(event.value) > MAX_NUMBER and _NUMBER.fullmatch(event.value):
        raise ParamsError(f"a number of {len(event.value):,} characters on line {line}: no key "
                          f"of a profile takes one longer than {MAX_NUMBER}.")


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a mapping that names the same key twice (YAML lets the last
    one win silently; in a profile it is always a mistake)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ParamsError(f"the key `{key}` appears twice, on lines {seen[key]} and "
                                  f"{line}: keep one of them.")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """Read a profile: UTF-8 text, YAML's safe loader only (tags such as !!python/... are
    rejected), no key twice in a mapping."""
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found. Profiles live in params/ "
                          "(default.yaml, quick.yaml, larger.yaml, original.yaml); copy one to "
                          "make your own.")
    size = path.stat().st_size
    if size > MAX_PROFILE_BYTES:
        raise ParamsError(f"{path}: {size:,} bytes, more than a profile ever needs "
                          f"({MAX_PROFILE_BYTES:,} at most); is it the right file?")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ParamsError(f"{path}: not UTF-8 text (byte {err.start} cannot be decoded). A "
                          "profile is a YAML text file: save it as UTF-8.") from None
    try:
        check_shape(text)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except ParamsError as err:
        raise ParamsError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
