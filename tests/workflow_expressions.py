"""GitHub Actions' expression language, small enough to read: enough to evaluate the workflows'
`if:` conditions and `${{ }}` expressions against recorded event payloads.

It follows GitHub's documented rules (docs.github.com, "Evaluate expressions in workflows and
actions"): a missing property is null, `==` compares loosely (strings case-insensitively, other
types as numbers), `&&` and `||` return an operand and stop early, and an `if:` without a status
function means `success() && (...)`. Anything it does not know (an operator, a function, the
`*` filter) is an error rather than a guess.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

TOKEN = re.compile(r"""
    \s*(?:
      (?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))
    | (?P<string>'(?:[^']|'')*')
    | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,*])
    | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""", re.X)
INTERPOLATION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")
LITERALS = {"true": True, "false": False, "null": None}


class ExpressionError(ValueError):
    """An expression this evaluator cannot parse or does not support."""


def tokens(text: str) -> list[tuple[str, str]]:
    """The expression's tokens as (kind, text) pairs."""
    out, pos = [], 0
    while pos < len(text.rstrip()):
        found = TOKEN.match(text, pos)
        if not found:
            raise ExpressionError(f"cannot read `{text[pos:]}` in `{text}`")
        kind = found.lastgroup
        out.append((kind, found.group(kind)))
        pos = found.end()
    return out


# --- the values' rules ------------------------------------------------------------------------

def truthy(value: Any) -> bool:
    """false, 0, -0, '', null and NaN are falsy; everything else is truthy."""
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (False, 0, "", None)


def as_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text or 0)
        except ValueError:
            return math.nan
    return math.nan


def as_string(value: Any) -> str:
    """How GitHub writes a value into a `${{ }}`: null is empty, booleans are lower case."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def compare(a: Any, b: Any) -> float:
    """Negative, zero or positive as a < b, a == b, a > b, by GitHub's loose rules (NaN:
    unordered)."""
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.lower(), b.lower()
        return (a > b) - (a < b)
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return 0 if a is b else math.nan
    x, y = as_number(a), as_number(b)
    return math.nan if math.isnan(x) or math.isnan(y) else (x > y) - (x < y)


def lookup(value: Any, key: Any) -> Any:
    """`value.key` or `value[key]`; null when absent (object keys are case-insensitive)."""
    if isinstance(value, Mapping) and isinstance(key, str):
        return next((v for k, v in value.items() if k.lower() == key.lower()), None)
    if isinstance(value, list) and isinstance(key, int | float) and not isinstance(key, bool):
        return value[int(key)] if 0 <= int(key) < len(value) else None
    return None


def format_(template: str, *args: Any) -> str:
    def fill(m: re.Match) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        return as_string(args[int(m.group(1))])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", fill, as_string(template))


def functions(root: Path, status: str) -> dict[str, Callable[..., Any]]:
    """The built-in functions; `hashFiles` reads the files under `root` as the runner would
    read its checkout, and the status functions answer for a run whose earlier steps `status`
    ('success' or 'failure')."""
    def hash_files(*patterns: str) -> str:
        files = sorted({f for p in patterns for f in glob.glob(p, root_dir=root, recursive=True)
                        if (root / f).is_file()})
        if not files:
            return ""  # what GitHub returns when no file matches
        digest = hashlib.sha256()
        for f in files:
            digest.update(hashlib.sha256((root / f).read_bytes()).digest())
        return digest.hexdigest()

    def contains(search: Any, item: Any) -> bool:
        if isinstance(search, list):
            return any(compare(x, item) == 0 for x in search)
        return as_string(item).lower() in as_string(search).lower()

    return {
        "contains": contains,
        "startswith": lambda s, p: as_string(s).lower().startswith(as_string(p).lower()),
        "endswith": lambda s, p: as_string(s).lower().endswith(as_string(p).lower()),
        "format": format_,
        "join": lambda a, sep=",": (as_string(sep).join(map(as_string, a))
                                    if isinstance(a, list) else as_string(a)),
        "tojson": lambda v: json.dumps(v, indent=2),
        "fromjson": lambda s: json.loads(as_string(s)),
        "hashfiles": hash_files,
        "success": lambda: status == "success",
        "failure": lambda: status == "failure",
        "always": lambda: True,
        "cancelled": lambda: False,
    }


# --- parsing and evaluating at once (a recursive descent over the token list) ----------------

class _Evaluator:
    """Evaluates one expression; `active` is False inside an operand that `&&`/`||` skip, where
    the syntax is still read but nothing is looked up or called."""

    def __init__(self, text: str, contexts: Mapping[str, Any], funcs: dict[str, Callable]):
        self.text, self.toks, self.pos = text, tokens(text), 0
        self.contexts, self.funcs, self.active = contexts, funcs, True

    def peek(self) -> str | None:
        return self.toks[self.pos][1] if self.pos < len(self.toks) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.toks):
            raise ExpressionError(f"`{self.text}` ends too early")
        tok = self.toks[self.pos]
        if expected is not None and tok != ("op", expected):
            raise ExpressionError(f"expected `{expected}`, found `{tok[1]}` in `{self.text}`")
        self.pos += 1
        return tok

    def run(self) -> Any:
        value = self.or_()
        if self.pos != len(self.toks):
            raise ExpressionError(f"unexpected `{self.peek()}` in `{self.text}`")
        return value

    def _short_circuit(self, op: str, operand: Callable[[], Any], stop: Callable[[Any], bool]
                       ) -> Any:
        value = operand()
        while self.peek() == op:
            self.take()
            was, self.active = self.active, self.active and not stop(value)
            right = operand()
            if self.active:
                value = right
            self.active = was
        return value

    def or_(self) -> Any:
        return self._short_circuit("||", self.and_, truthy)

    def and_(self) -> Any:
        return self._short_circuit("&&", self.equality, lambda v: not truthy(v))

    def equality(self) -> Any:
        value = self.relation()
        while self.peek() in ("==", "!="):
            op = self.take()[1]
            c = compare(value, self.relation())
            value = (c == 0) if op == "==" else c != 0
        return value

    def relation(self) -> Any:
        value = self.unary()
        while self.peek() in ("<", "<=", ">", ">="):
            op = self.take()[1]
            c = compare(value, self.unary())
            value = not math.isnan(c) and {"<": c < 0, "<=": c <= 0, ">": c > 0,
                                           ">=": c >= 0}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def postfix(self, value: Any) -> Any:
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                kind, name = self.take()
                if kind != "name":
                    raise ExpressionError(f"`.{name}` is not supported in `{self.text}`")
                value = lookup(value, name)
            else:
                if self.peek() == "*":
                    raise ExpressionError(f"the `*` filter is not supported: `{self.text}`")
                key = self.or_()
                self.take("]")
                value = lookup(value, key)
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return float(int(text, 16)) if "x" in text.lower() else float(text)
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind != "name":
            raise ExpressionError(f"unexpected `{text}` in `{self.text}`")
        if text in LITERALS:
            return LITERALS[text]
        if self.peek() == "(":
            return self.call(text)
        if text not in self.contexts:
            raise ExpressionError(f"unknown context `{text}` in `{self.text}`")
        return self.contexts[text]

    def call(self, name: str) -> Any:
        func = self.funcs.get(name.lower())
        if func is None:
            raise ExpressionError(f"unknown function `{name}` in `{self.text}`")
        self.take("(")
        args = []
        while self.peek() != ")":
            args.append(self.or_())
            if self.peek() == ",":
                self.take()
        self.take(")")
        return func(*args) if self.active else None


def evaluate(text: str, contexts: Mapping[str, Any], root: Path, status: str = "success") -> Any:
    """The value of one expression (the text inside `${{ }}`)."""
    return _Evaluator(text, contexts, functions(root, status)).run()


def condition(text: Any, contexts: Mapping[str, Any], root: Path, status: str = "success"
              ) -> bool:
    """Whether an `if:` holds (absent: `success()`; without a status function it is
    `success() && (...)`, as GitHub reads it)."""
    if text is None:
        text = "success()"
    if isinstance(text, bool):
        return text
    text = str(text).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if not re.search(rf"\b(?:{'|'.join(STATUS_FUNCTIONS)})\s*\(", text):
        text = f"success() && ({text})"
    return truthy(evaluate(text, contexts, root, status))


def interpolations(value: str, contexts: Mapping[str, Any], root: Path
                   ) -> list[tuple[str, str]]:
    """Each `${{ }}` in a string with what it writes there, as (expression, text)."""
    return [(m.group(1).strip(), as_string(evaluate(m.group(1), contexts, root)))
            for m in INTERPOLATION.finditer(value)]


def interpolate(value: str, contexts: Mapping[str, Any], root: Path) -> str:
    """The string with every `${{ }}` replaced by what it writes."""
    return INTERPOLATION.sub(lambda m: as_string(evaluate(m.group(1), contexts, root)), value)
