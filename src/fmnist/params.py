"""Parameter profiles: load, override and validate a whole run against the schema (`schema`).

A profile is one YAML file (`profile_yaml` reads it): shared keys (`seed`, `data_dir`,
`results_dir`) plus one section per chapter. Every value is checked for type and range before
any chapter runs; errors name the file, the key and what is allowed. A chapter validates the
parameters papermill gave it the same way (`from_namespace`, `read_section`). Somewhat over 300
lines: every check's message names the file, the key and what is allowed.

pandas is imported only for a chapter's table of its parameters (`describe_params`): the command
line loads this module, and pandas would more than double its start-up.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fmnist.profile_yaml import MAX_SCALAR, check_shape, read_yaml
from fmnist.schema import (
    MAX_TRAIN,
    READS,
    SCHEMAS,
    UNSEARCHABLE,
    CnnParams,
    ParamsError,
    SharedParams,
    TuningParams,
    is_space,
    reads_key,
    received,
)


@dataclass(frozen=True)
class Profile:
    """One whole run: shared keys plus one validated section per chapter."""

    name: str
    shared: SharedParams
    sections: dict[str, Any]

    def chapter(self, name: str) -> dict[str, Any]:
        """The papermill parameters of one chapter: shared keys, its section and, as one mapping
        each (`<section>_params`), the sections it reads (`READS`)."""
        return {**dataclasses.asdict(self.shared), **dataclasses.asdict(self.sections[name]),
                **{reads_key(dep): received(name, dep, dataclasses.asdict(self.sections[dep]))
                   for dep in READS.get(name, ())}}

    def as_dict(self) -> dict[str, Any]:
        """The profile as plain data, in the YAML layout."""
        out = dataclasses.asdict(self.shared)
        out.update({name: dataclasses.asdict(sec) for name, sec in self.sections.items()})
        return out

    def digest(self) -> str:
        """A short hash of the whole parameter set."""
        return params_hash(self.as_dict())


def params_hash(values: Mapping[str, Any]) -> str:
    """A short, stable hash of plain data."""
    blob = json.dumps(values, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """Check `value` against a type hint; ints are accepted where floats are expected."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return True, None
        for inner in (a for a in args if a is not type(None)):
            ok, coerced = _coerce(value, inner)
            if ok:
                return True, coerced
        return False, value
    if origin is list:
        if not isinstance(value, list | tuple):
            return False, value
        items = [_coerce(v, args[0]) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        if isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-5 (no dot) as text; it means the number
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return ok, float(value) if ok else value
    return isinstance(value, tp), value


def _describe(value: Any) -> str:
    return f"{_shorten(repr(value))} (a {type(value).__name__})"


def _closest(key: str, options: list[str]) -> str:
    match = difflib.get_close_matches(key, options, n=1, cutoff=0.5)
    return f" Did you mean `{match[0]}`?" if match else ""


def build_section(schema: type, values: Mapping[str, Any], where: str, prefix: str = "") -> Any:
    """Validate a mapping against a schema dataclass; missing keys take their defaults."""
    fields = {f.name: f for f in dataclasses.fields(schema)}
    hints = typing.get_type_hints(schema)
    out = {}
    for key, value in values.items():
        if key not in fields:
            raise ParamsError(f"{where}: unknown key `{prefix}{key}`.{_closest(key, list(fields))}"
                              f" Allowed keys: {', '.join(fields)}.")
        meta = fields[key].metadata
        ok, coerced = _coerce(value, hints[key])
        check = meta.get("check")
        if ok and check is not None:
            ok = bool(check(coerced))
        if not ok:
            allowed = meta.get("allowed") or _type_name(hints[key])
            raise ParamsError(f"{where}: `{prefix}{key}` must be {allowed}; got {_describe(value)}."
                              f" ({meta['help']})")
        out[key] = coerced
    return schema(**out)


def _check_cross(profile: Profile, where: str) -> None:
    data, tuning = profile.sections["data"], profile.sections["tuning"]
    train_size = data.train_subset or MAX_TRAIN
    n_train = int(train_size * (1 - data.val_fraction))
    if tuning.search_subset is not None and tuning.search_subset > n_train:
        raise ParamsError(f"{where}: `tuning.search_subset` ({tuning.search_subset}) is larger than"
                          f" the training split ({n_train} images with data.train_subset="
                          f"{data.train_subset} and data.val_fraction={data.val_fraction}). "
                          "Use a smaller subset or null for all of it.")
    cnn = profile.sections["cnn"]
    if len(cnn.kernel_size) != len(cnn.filters):
        raise ParamsError(f"{where}: `cnn.kernel_size` has {len(cnn.kernel_size)} entries but "
                          f"`cnn.filters` has {len(cnn.filters)}: give one kernel size per "
                          "conv block.")
    for name in ("dense", "cnn"):
        section = profile.sections[name]
        if section.warmup_epochs >= section.epochs:
            raise ParamsError(f"{where}: `{name}.warmup_epochs` ({section.warmup_epochs}) must be "
                              f"smaller than `{name}.epochs` ({section.epochs}).")
    profile.sections["tuning"] = dataclasses.replace(
        tuning, space=_check_space(tuning.space, cnn, where))


def _check_space(space: Mapping[str, list], cnn: Any, where: str) -> dict[str, list]:
    """Every searched key is a searchable CNN key and every candidate a valid value for it;
    returns the space with each candidate as the schema reads it (`1e-5` as a number)."""
    searchable = [f.name for f in dataclasses.fields(CnnParams) if f.name not in UNSEARCHABLE]
    coerced: dict[str, list] = {}
    for key, values in space.items():
        if key not in searchable:
            hint = (" It is the training protocol the tuned CNN shares with the default one."
                    if key in UNSEARCHABLE else _closest(key, searchable))
            raise ParamsError(f"{where}: `tuning.space.{key}` cannot be searched.{hint} "
                              f"Searchable keys: {', '.join(searchable)}.")
        read = []
        for i, value in enumerate(values):
            try:
                checked = getattr(build_section(CnnParams, {key: value}, where, prefix="cnn."),
                                  key)
                # Only text the schema reads as a number changes (`1e-5`); an integer given for
                # a float stays as written, so a search's folder and trials keep their names.
                read.append(checked if isinstance(value, str) else value)
            except ParamsError as err:
                raise ParamsError(str(err).replace(
                    f"`cnn.{key}`", f"candidate {i + 1} of `tuning.space.{key}`")) from None
        coerced[key] = read
    n_blocks = {len(v) for v in space.get("filters", [cnn.filters])}
    if "kernel_size" not in space and len(set(cnn.kernel_size)) == 1:
        return coerced  # a searched depth repeats the section's one kernel size
    n_kernels = {len(v) for v in space.get("kernel_size", [cnn.kernel_size])}
    if n_blocks != n_kernels or len(n_blocks) != 1:
        raise ParamsError(f"{where}: every `filters` candidate must have as many blocks as every "
                          f"`kernel_size` candidate (the cnn section's when not searched, unless "
                          f"it uses one kernel size throughout); got {sorted(n_blocks)} block(s) "
                          f"against {sorted(n_kernels)} kernel size(s).")
    return coerced


def profile_from_mapping(raw: Any, where: str, name: str = "custom") -> Profile:
    """Validate a whole profile given as plain data."""
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{where}: a profile must be a mapping of keys to values, got "
                          f"{type(raw).__name__}. See params/default.yaml for the layout.")
    shared_keys = [f.name for f in dataclasses.fields(SharedParams)]
    for key in raw:
        if not isinstance(key, str) or (key not in shared_keys and key not in SCHEMAS):
            raise ParamsError(f"{where}: unknown section or key `{key}`."
                              f"{_closest(str(key), shared_keys + list(SCHEMAS))} Allowed: "
                              f"{', '.join(shared_keys + list(SCHEMAS))}.")
    shared = build_section(SharedParams, {k: raw[k] for k in shared_keys if k in raw}, where)
    sections = {}
    for chapter, schema in SCHEMAS.items():
        section = raw.get(chapter) or {}
        if not isinstance(section, Mapping):
            raise ParamsError(f"{where}: section `{chapter}` must be a mapping of keys to values,"
                              f" got {type(section).__name__}.")
        sections[chapter] = build_section(schema, section, where, prefix=f"{chapter}.")
    profile = Profile(name=name, shared=shared, sections=sections)
    _check_cross(profile, where)
    return profile


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse `section.key=value` (or `key=value` for shared keys); the value is YAML."""
    if len(text) > MAX_SCALAR:
        raise ParamsError(f"--set {_shorten(text)}: {len(text):,} characters; no key of a "
                          f"profile takes more than {MAX_SCALAR:,}.")
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ParamsError(f"--set {text}: expected KEY=VALUE, e.g. --set cnn.epochs=20.")
    try:
        check_shape(value)
        parsed = yaml.safe_load(value) if value.strip() else None
    except ParamsError as err:
        raise ParamsError(f"--set {_shorten(text)}: {err}") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"--set {_shorten(text)}: the value is not valid YAML ({err}).") from None
    return key.strip().split("."), parsed


def _shorten(text: str, width: int = 60) -> str:
    """`text` as an error message quotes it: its first `width` characters."""
    return text if len(text) <= width else f"{text[:width]}... ({len(text):,} characters)"


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of `raw` with every `--set` override applied."""
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in raw.items()}
    for text in overrides:
        path, value = parse_override(text)
        if len(path) == 1:
            out[path[0]] = value
        elif len(path) == 2:
            section = out.setdefault(path[0], {})
            if not isinstance(section, dict):
                raise ParamsError(f"--set {text}: `{path[0]}` is not a section.")
            section[path[1]] = value
        else:
            raise ParamsError(f"--set {text}: keys have at most two parts (section.key).")
    return out


PROFILE_NAME = re.compile(r"\w[\w .+-]*")


def load_profile(path: str | Path, overrides: list[str] | None = None) -> Profile:
    """Load, override and validate a profile file."""
    path = Path(path)
    if not PROFILE_NAME.fullmatch(path.stem):
        # The name is shown on every chapter's page and in the run history.
        raise ParamsError(f"{path}: a profile's file name may hold letters, digits, spaces and "
                          "`.`, `+`, `-`, `_` only; rename it, e.g. `my-profile.yaml`.")
    raw = read_yaml(path)
    if raw is None:
        raw = {}
    if overrides:
        if not isinstance(raw, Mapping):
            profile_from_mapping(raw, str(path))  # raises the "not a mapping" error
        raw = apply_overrides(dict(raw), overrides)
    where = str(path) + (" with --set " + " ".join(map(_shorten, overrides)) if overrides
                         else "")
    return profile_from_mapping(raw, where, name=path.stem)


IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def from_namespace(chapter: str, namespace: Mapping[str, Any]) -> tuple[SharedParams, Any]:
    """Validate a notebook's parameters (its globals after papermill's injection).

    Every plain global that is not a module, function or class counts as a parameter, so an
    unknown name passed with `papermill -p` is reported like an unknown key in a profile.
    """
    values = {
        k: v for k, v in namespace.items()
        if not k.startswith("_") and k not in IPYTHON_NAMES
        and not isinstance(v, types.ModuleType | types.FunctionType | type)
        and not callable(v)
    }
    shared_keys = {f.name for f in dataclasses.fields(SharedParams)}
    where = f"papermill parameters of chapter `{chapter}`"
    shared = build_section(SharedParams, {k: v for k, v in values.items() if k in shared_keys},
                           where)
    others = shared_keys | {reads_key(dep) for dep in READS.get(chapter, ())}
    section = build_section(SCHEMAS[chapter],
                            {k: v for k, v in values.items() if k not in others}, where)
    return shared, section


def read_section(chapter: str, name: str, namespace: Mapping[str, Any]) -> Any:
    """A section that `chapter` receives besides its own (`READS`), validated.

    For the tuning chapter, the search space is also checked against the CNN section.
    """
    where = f"papermill parameters of chapter `{chapter}`"
    if name not in READS.get(chapter, ()):
        raise ParamsError(f"{where}: chapter `{chapter}` does not receive section `{name}`.")
    raw = namespace.get(reads_key(name))
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{where}: `{reads_key(name)}` must be a mapping of the {name} "
                          f"section's keys, got {_describe(raw)}.")
    section = build_section(SCHEMAS[name], raw, where, prefix=f"{name}.")
    if chapter == "tuning" and name == "cnn":
        space = namespace.get("space", TuningParams().space)
        if not isinstance(space, Mapping) or not is_space(space):
            raise ParamsError(f"{where}: `space` must be a mapping of cnn keys to non-empty "
                              f"lists of values, got {_describe(space)}.")
        _check_space(space, section, where)
    return section


def chapter_values(shared: SharedParams, section: Any) -> dict[str, Any]:
    """The parameters a chapter ran with, as plain data (also stored in its metrics)."""
    return {**dataclasses.asdict(shared), **dataclasses.asdict(section)}


def describe_params(shared: SharedParams, section: Any) -> Any:
    """The parameters a chapter runs with, as a table of key, value and meaning."""
    import pandas as pd  # noqa: PLC0415 - the command line's start-up (module docstring)

    rows = [{"parameter": f.name, "value": repr(getattr(obj, f.name)),
             "meaning": f.metadata.get("help", "")}
            for obj in (shared, section) for f in dataclasses.fields(obj)]
    return pd.DataFrame(rows).set_index("parameter")
