"""Parameter profiles: one frozen schema per chapter; load, override and validate a whole run.

Longer than most modules because the schema is one place: every key of every chapter with its
default, help and allowed range, and the validation that names them in its errors.

A profile is one YAML file: shared keys (`seed`, `data_dir`, `results_dir`) plus one section per
chapter. Every value is checked for type and range before any chapter runs; errors name the file,
the key and what is allowed.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import math
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fmnist.chapters import PIPELINE

MAX_TRAIN = 60_000
BN_PLACEMENTS: tuple[str, ...] = ("none", "conv", "pool")  # models.build_cnn's batch_norm
HEADS: tuple[str, ...] = ("flatten", "gap")  # models.build_cnn's head


class ParamsError(ValueError):
    """A parameter file or override is invalid; the message says where and what is allowed."""


Check = Callable[[Any], bool]


def _param(default: Any, help: str, check: Check | None = None, allowed: str = "") -> Any:
    """A schema field: its default, a one-line help, and an optional range check."""
    if isinstance(default, list | dict):
        return field(default_factory=lambda: copy.deepcopy(default),
                     metadata={"help": help, "check": check, "allowed": allowed})
    return field(default=default, metadata={"help": help, "check": check, "allowed": allowed})


def _positive(v: Any) -> bool:
    return v > 0


def _all_positive(v: list) -> bool:
    return len(v) > 0 and all(x > 0 for x in v)


def _threads(default: int, what: str) -> Any:
    """A chapter's thread count: part of its parameters, never of the schedule, because
    TensorFlow's results move with it (so a chapter gives the same numbers whether it runs
    alone, beside another chapter, or in a reader's Jupyter)."""
    return _param(default, f"threads {what} (results depend on it; the schedule never changes it)",
                  lambda v: 1 <= v <= 64, "an integer in [1, 64]")


def _fraction(v: float) -> bool:
    return 0 <= v < 1


@dataclass(frozen=True)
class SharedParams:
    """Keys every chapter receives."""

    seed: int = _param(42, "seed for every random source", lambda v: v >= 0, "an integer >= 0")
    data_dir: str | None = _param(None, "folder with the IDX files (null: search the usual places)")
    results_dir: str = _param("results", "where chapters write outputs (inside the project)")


@dataclass(frozen=True)
class DataParams:
    """The data chapter: validation split and optional training subset."""

    val_fraction: float = _param(0.1, "share of the training set held out for validation",
                                 lambda v: 0 < v <= 0.5, "a number in (0, 0.5]")
    train_subset: int | None = _param(None, "stratified subset of the 60k training images",
                                      lambda v: v is None or 100 <= v <= MAX_TRAIN,
                                      f"null or an integer in [100, {MAX_TRAIN}]")
    samples_per_class: int = _param(8, "images per class in the sample grid",
                                    lambda v: 1 <= v <= 20, "an integer in [1, 20]")


@dataclass(frozen=True)
class BaselineParams:
    """Multinomial logistic regression; solver and C chosen on the validation split."""

    solvers: list[str] = _param(["lbfgs"], "solvers tried",
                                lambda v: len(v) > 0 and set(v) <= {"lbfgs", "saga", "sag",
                                                                     "newton-cg"},
                                "a non-empty list from lbfgs, saga, sag, newton-cg")
    c_grid: list[float] = _param([0.03, 0.1], "inverse regularisation strengths tried",
                                 _all_positive, "a non-empty list of numbers > 0")
    max_iter: int = _param(1000, "iteration cap (a fit that hits it fails, never warns)",
                           _positive, "an integer > 0")
    tol: float = _param(1e-4, "convergence tolerance", _positive, "a number > 0")
    require_convergence: bool = _param(True, "choose only among fits that converged (false: "
                                       "any fit, as the original's 100 saga iterations)")
    # One BLAS thread: OpenBLAS's second thread busy-waits more than it computes on this grid.
    threads: int = _threads(1, "for the solver's linear algebra (BLAS)")


@dataclass(frozen=True)
class RecipeParams:
    """The training recipe's pieces (`recipe.Recipe`), shared by the Keras chapters; every piece
    is off by default, as in the original study."""

    # A mirrored garment is the same garment: the flip keeps every label.
    augment_flip: bool = _param(False, "mirror a random half of each training batch left to right")
    augment_shift: int = _param(0, "translate training images by up to this many pixels",
                                lambda v: 0 <= v <= 4, "an integer in [0, 4]")
    label_smoothing: float = _param(0.0, "share of each target spread over the classes",
                                    lambda v: 0 <= v < 0.5, "a number in [0, 0.5)")
    ema_momentum: float = _param(0.0, "momentum of the weights' moving average (0: off)",
                                 lambda v: v == 0 or 0.9 <= v < 1, "0, or a number in [0.9, 1)")
    warmup_epochs: float = _param(0.0, "epochs of linear learning-rate warm-up",
                                  lambda v: v >= 0, "a number >= 0")
    tta: bool = _param(False, "average each image's and its mirror's predictions (validation "
                       "and test alike)")


@dataclass(frozen=True)
class DenseParams(RecipeParams):
    """Two hidden ReLU layers with dropout; the defaults are the original study's network."""

    units: list[int] = _param([128, 64], "units of the two hidden layers",
                              lambda v: len(v) == 2 and _all_positive(v),
                              "two integers > 0")
    dropout: float = _param(0.0, "dropout after each hidden layer", _fraction, "a number in [0, 1)")
    learning_rate: float = _param(1e-3, "Adam's initial learning rate (cosine decay)", _positive,
                                  "a number > 0")
    epochs: int = _param(30, "maximum epochs (early stopping on validation accuracy)",
                         _positive, "an integer > 0")
    batch_size: int = _param(128, "batch size", _positive, "an integer > 0")
    patience: int = _param(5, "epochs without validation improvement before stopping",
                           lambda v: v >= 1, "an integer >= 1")
    # One thread: the report runs this chapter beside others, each on one core.
    threads: int = _threads(1, "for TensorFlow's operations")


@dataclass(frozen=True)
class CnnParams(RecipeParams):
    """Conv2D + MaxPooling blocks (two, as the original, or three), a dense layer and dropout;
    the defaults are the original study's CNN."""

    filters: list[int] = _param([32, 64], "filters of each conv block (two or three blocks)",
                                lambda v: len(v) in (2, 3) and _all_positive(v),
                                "two or three integers > 0")
    kernel_size: list[int] = _param([3, 3], "kernel size of each conv block",
                                    lambda v: len(v) in (2, 3) and _all_positive(v),
                                    "two or three integers > 0, one per block")
    dense_units: int = _param(128, "units of the dense layer", _positive, "an integer > 0")
    dropout: float = _param(0.3, "dropout before the output layer", _fraction,
                            "a number in [0, 1)")
    batch_norm: str = _param(
        "none", "batch normalisation: none, conv (each convolution's output, before pooling) or "
        "pool (after pooling: a quarter of the values, faster)",
        lambda v: v in BN_PLACEMENTS, "none, conv or pool")
    padding: str = _param("valid", "convolution padding", lambda v: v in ("valid", "same"),
                          "valid or same")
    head: str = _param("flatten", "flatten the last block (the original) or gap (global "
                       "average pooling)", lambda v: v in HEADS, "flatten or gap")
    learning_rate: float = _param(1e-3, "Adam's peak learning rate (cosine decay)", _positive,
                                  "a number > 0")
    epochs: int = _param(15, "maximum epochs (early stopping on validation accuracy)",
                         _positive, "an integer > 0")
    batch_size: int = _param(128, "batch size", _positive, "an integer > 0")
    patience: int = _param(4, "epochs without validation improvement before stopping",
                           lambda v: v >= 1, "an integer >= 1")
    # One thread: the report runs this chapter beside the tuning search, each on one core.
    threads: int = _threads(1, "for TensorFlow's operations")


# Keys of the CNN section a search may change: not the protocol (epochs, batch size, patience),
# which the tuned model shares with the default CNN, nor test-time averaging, which follows a
# searched `augment_flip` (it helps only models trained on mirrored images: bench/frontier.py),
# nor the thread count (the trials run with the tuning section's).
UNSEARCHABLE: tuple[str, ...] = ("epochs", "batch_size", "patience", "tta", "threads")
# The keys bench/frontier.py found to matter, each with the original's value among its candidates.
DEFAULT_SPACE: dict[str, list[Any]] = {
    "padding": ["valid", "same"],
    "batch_norm": ["none", "pool"],
    "filters": [[32, 64], [64, 128], [32, 64, 128]],
    "dropout": [0.3, 0.4],
    "learning_rate": [0.001, 0.002],
    "warmup_epochs": [0.0, 1.0],
    "augment_flip": [False, True],
    "augment_shift": [0, 1],
    "label_smoothing": [0.0, 0.1],
    "ema_momentum": [0.0, 0.99],
}


def _is_space(v: Any) -> bool:
    return len(v) > 0 and all(isinstance(k, str) and isinstance(c, list) and len(c) > 0
                              for k, c in v.items())


@dataclass(frozen=True)
class TuningParams:
    """A KerasTuner search over keys of the CNN section; the chosen trial is retrained like the
    CNN (same epochs, batch size, patience and seed)."""

    algorithm: str = _param("random", "tuner algorithm",
                            lambda v: v in ("random", "hyperband", "bayesian"),
                            "random, hyperband or bayesian")
    max_trials: int = _param(16, "trials (Hyperband: whole iterations starting the nearest "
                             "number of configurations)", _positive, "an integer > 0")
    trial_epochs: int = _param(2, "epochs per trial (Hyperband: the most a configuration gets)",
                               _positive, "an integer > 0")
    search_subset: int | None = _param(10_000, "training images used during the search",
                                       lambda v: v is None or 100 <= v <= MAX_TRAIN,
                                       f"null or an integer in [100, {MAX_TRAIN}]")
    space: dict = _param(DEFAULT_SPACE, "CNN keys searched, each with its candidate values",
                         _is_space, "a mapping of cnn keys to non-empty lists of values")
    selection: str = _param("one_se", "which trial is retrained: the best, or the cheapest "
                            "within one standard error of the best (one_se)",
                            lambda v: v in ("best", "one_se"), "best or one_se")
    overwrite: bool = _param(False, "start the search afresh instead of resuming")
    # Two threads: the retrain, the longest single step of the report, runs alone at its end.
    threads: int = _threads(2, "for the trials' and the retrain's TensorFlow operations")


@dataclass(frozen=True)
class ComparisonParams:
    """The comparison chapter reads results only; it also holds how many runs the run history
    keeps (`fmnist runs` and the site's runs page compare them)."""

    show_references: bool = _param(True, "show published reference figures under the table")
    history: int = _param(20, "runs the run history keeps (the newest)", _positive,
                          "an integer > 0")


SCHEMAS: dict[str, type] = {
    "data": DataParams, "baseline": BaselineParams, "dense": DenseParams, "cnn": CnnParams,
    "tuning": TuningParams, "comparison": ComparisonParams,
}
# Sections a chapter receives besides its own (`chapters.PIPELINE`): every model chapter the
# split's keys of the data section (to make the split itself when the data chapter has not run,
# e.g. in a fresh Colab runtime); the tuning chapter also the CNN's configuration and protocol.
READS: dict[str, tuple[str, ...]] = {c.slug: tuple(c.receives) for c in PIPELINE if c.receives}


def received(chapter: str, section: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of another chapter's section that `chapter` receives (those that change its
    results), from all of the section's `values`."""
    keys = next(c for c in PIPELINE if c.slug == chapter).receives[section]
    return dict(values) if keys is None else {k: values[k] for k in keys}


def reads_key(section: str) -> str:
    """The parameter that carries another chapter's section (`data` is also a module's name)."""
    return f"{section}_params"


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
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
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
        _check_shape(value)
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


# Bounds on what a profile may be, checked on YAML's event stream before anything is built: a
# profile is a few hundred bytes of flat sections, so these refuse only input made to exhaust
# memory or time (an alias "bomb", nesting that exhausts the composer's recursion, a megabyte
# number whose conversion is quadratic).
MAX_PROFILE_BYTES = 256 * 1024
MAX_DEPTH = 8  # a profile's deepest value is a list of lists (tuning.space.filters): depth 5
MAX_SCALAR = 4096  # characters: a long folder path fits
MAX_NUMBER = 20  # characters of a plain number: a seed up to 2**64 fits
_NUMBER = re.compile(r"[-+]?[\d_.eE]+")


def _check_shape(text: str) -> None:
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
        _check_shape(text)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except ParamsError as err:
        raise ParamsError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None


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
    import types

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
        if not isinstance(space, Mapping) or not _is_space(space):
            raise ParamsError(f"{where}: `space` must be a mapping of cnn keys to non-empty "
                              f"lists of values, got {_describe(space)}.")
        _check_space(space, section, where)
    return section


def chapter_values(shared: SharedParams, section: Any) -> dict[str, Any]:
    """The parameters a chapter ran with, as plain data (also stored in its metrics)."""
    return {**dataclasses.asdict(shared), **dataclasses.asdict(section)}


def describe_params(shared: SharedParams, section: Any) -> Any:
    """The parameters a chapter runs with, as a table of key, value and meaning."""
    import pandas as pd

    rows = [{"parameter": f.name, "value": repr(getattr(obj, f.name)),
             "meaning": f.metadata.get("help", "")}
            for obj in (shared, section) for f in dataclasses.fields(obj)]
    return pd.DataFrame(rows).set_index("parameter")
