"""Consistency rules: public statements every real row obeys, which the sampler enforces on synthetic rows.

A steward declares them in the threat model (``data.rules``), for example::

    age < 15 -> marital_status is missing
    capital_loss <= capital_gain
    education == 'Bachelors' -> education_num == 13
    indp in category(indp_cat)

Grammar: ``RULE := CLAUSE ['->' CLAUSE]``, ``CLAUSE := ATOM ('and' ATOM)*``, and an atom is one of
``column is [not] missing``, ``column [not] in category(parent)`` (the child's declared public parent),
``column [not] in [literal, ...]`` or ``operand OP operand`` with OP in ``< <= > >= == !=`` and an operand a
column name (backquoted when it is not a plain name), a number or a quoted string.

Missing values follow SQL's CHECK semantics (Kleene logic): a comparison with a missing operand is unknown,
and a rule is broken only when it evaluates to false, i.e. its premise is true and its conclusion false.
Rules are public and are applied to generated rows only (post-processing), so they cost no privacy budget.
This module parses and evaluates; it reads no private table by itself.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence, Union

import numpy as np
import pandas as pd

_TOKEN = re.compile(r"""\s*(?:(?P<arrow>->)|(?P<op><=|>=|==|!=|<|>)|(?P<punct>[()\[\],])
    |(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<quoted>`[^`]+`))""", re.VERBOSE)
_KEYWORDS = {"and", "is", "not", "missing", "in", "category"}


_READABLE = {"end": "the end of the rule", "punct": "a bracket or ','", "op": "a comparison (< <= > >= == !=)",
             "name": "a column name", "number": "a number", "string": "a quoted text", "arrow": "'->'"}


class RuleSyntaxError(ValueError):
    """A rule that does not parse; the message says where."""


@dataclass(frozen=True)
class Column:
    name: str


Operand = Union[Column, float, str]


@dataclass(frozen=True)
class IsMissing:
    column: str
    negate: bool = False


@dataclass(frozen=True)
class InCategory:
    column: str
    parent: str
    negate: bool = False


@dataclass(frozen=True)
class InList:
    column: str
    values: tuple[Union[float, str], ...]
    negate: bool = False


@dataclass(frozen=True)
class Compare:
    left: Operand
    op: str
    right: Operand


Atom = Union[IsMissing, InCategory, InList, Compare]


@dataclass(frozen=True)
class Rule:
    text: str
    premise: tuple[Atom, ...]  # empty: the conclusion must hold on every row
    conclusion: tuple[Atom, ...]

    @property
    def atoms(self) -> tuple[Atom, ...]:
        return self.premise + self.conclusion

    @property
    def columns(self) -> list[str]:
        names: list[str] = []
        for atom in self.atoms:
            if isinstance(atom, Compare):
                names += [o.name for o in (atom.left, atom.right) if isinstance(o, Column)]
            else:
                names.append(atom.column)
                if isinstance(atom, InCategory):
                    names.append(atom.parent)
        return list(dict.fromkeys(names))


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise RuleSyntaxError(f"cannot read {text[pos:pos + 12].strip()!r} at character {pos + 1}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "quoted":
            kind, value = "name", value[1:-1]
        elif kind == "name" and value in _KEYWORDS:
            kind = value
        out.append((kind, value))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.i = text, _tokens(text), 0

    def peek(self) -> str:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else "end"

    def take(self, *kinds: str) -> str:
        kind = self.peek()
        if kind not in kinds:
            got = "the end" if kind == "end" else repr(self.tokens[self.i][1])
            wanted = " or ".join(_READABLE.get(k, k) for k in kinds)
            raise RuleSyntaxError(f"expected {wanted} but found {got}")
        self.i += 1
        return self.tokens[self.i - 1][1] if kind != "end" else ""

    def rule(self) -> Rule:
        first = self.clause()
        if self.peek() == "arrow":
            self.take("arrow")
            second = self.clause()
            self.take("end")
            return Rule(self.text, first, second)
        self.take("end")
        return Rule(self.text, (), first)

    def clause(self) -> tuple[Atom, ...]:
        atoms = [self.atom()]
        while self.peek() == "and":
            self.take("and")
            atoms.append(self.atom())
        return tuple(atoms)

    def atom(self) -> Atom:
        left = self.operand()
        kind = self.peek()
        if kind in ("is", "not", "in"):
            if not isinstance(left, Column):
                raise RuleSyntaxError(f"{kind!r} needs a column on its left, not {left!r}")
            return self.membership(left.name)
        op = self.take("op")
        return Compare(left, op, self.operand())

    def membership(self, column: str) -> Atom:
        if self.peek() == "is":
            self.take("is")
            negate = self.peek() == "not" and bool(self.take("not"))
            self.take("missing")
            return IsMissing(column, negate)
        negate = self.peek() == "not" and bool(self.take("not"))
        self.take("in")
        if self.peek() == "category":
            self.take("category")
            self.take("punct")
            parent = self.take("name")
            if self.take("punct") != ")":
                raise RuleSyntaxError("category(...) needs a closing ')'")
            return InCategory(column, parent, negate)
        if self.take("punct") != "[":
            raise RuleSyntaxError("'in' takes category(parent) or a list [a, b, ...]")
        values = [self.literal()]
        while (close := self.take("punct")) == ",":
            values.append(self.literal())
        if close != "]":
            raise RuleSyntaxError("a list of values ends with ']'")
        return InList(column, tuple(values), negate)

    def literal(self) -> Union[float, str]:
        kind = self.peek()
        value = self.take("number", "string")
        return float(value) if kind == "number" else _unquote(value)

    def operand(self) -> Operand:
        kind = self.peek()
        value = self.take("name", "number", "string")
        if kind == "name":
            return Column(value)
        return float(value) if kind == "number" else _unquote(value)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse_rule(text: str) -> Rule:
    """Parse one rule; raise RuleSyntaxError naming what was expected."""
    if not isinstance(text, str) or not text.strip():
        raise RuleSyntaxError("a rule must be a non-empty string")
    return _Parser(text.strip()).rule()


@dataclass(frozen=True)
class ColumnFacts:
    """What a rule may assume about a column: numeric or categorical, its public values, its parent."""

    numeric: bool
    values: tuple[str, ...] = ()
    parent: str | None = None
    #: child value -> parent value, for ``in category(parent)``
    parent_of: Mapping[str, str] | None = None


def rule_problems(rule: Rule, columns: Mapping[str, ColumnFacts]) -> list[str]:
    """Type problems of a parsed rule against the declared columns (empty when it can be evaluated)."""
    problems = [f"unknown column {c!r}" for c in rule.columns if c not in columns]
    if problems:
        return problems
    for atom in rule.atoms:
        if isinstance(atom, InCategory) and columns[atom.column].parent != atom.parent:
            problems.append(f"{atom.column!r} has no declared parent {atom.parent!r} (add parent: to its domain)")
        elif isinstance(atom, InList):
            problems += [_literal_problem(atom.column, v, columns[atom.column]) for v in atom.values]
        elif isinstance(atom, Compare):
            problems += _compare_problems(atom, columns)
    return [p for p in problems if p]


def _literal_problem(column: str, value: Union[float, str], facts: ColumnFacts) -> str:
    if facts.numeric and not isinstance(value, float):
        return f"{column!r} is numeric but is compared with the text {value!r}"
    if not facts.numeric and str(_as_text(value)) not in facts.values:
        return f"{value!r} is not a declared value of {column!r}"
    return ""


def _compare_problems(atom: Compare, columns: Mapping[str, ColumnFacts]) -> list[str]:
    left, right = (columns[o.name] if isinstance(o, Column) else None for o in (atom.left, atom.right))
    problems = []
    if left is not None and not isinstance(atom.right, Column):
        problems.append(_literal_problem(_name(atom.left), atom.right, left))
    if right is not None and not isinstance(atom.left, Column):
        problems.append(_literal_problem(_name(atom.right), atom.left, right))
    kinds = {f.numeric for f in (left, right) if f is not None}
    if len(kinds) > 1:
        problems.append(f"{_name(atom.left)!r} and {_name(atom.right)!r} are a number and a category")
    if atom.op not in ("==", "!=") and False in kinds:
        problems.append(f"{atom.op!r} needs numbers: categories have no order (use == or !=)")
    if not kinds:
        problems.append("a comparison needs at least one column")
    return problems


def _name(operand: Operand) -> str:
    return operand.name if isinstance(operand, Column) else str(operand)


def _as_text(value: Union[float, str]) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---------------------------------------------------------------------------------------------- evaluation
_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal,
        "!=": np.not_equal}


def _values(operand: Operand, frame: pd.DataFrame, numeric: bool) -> tuple[np.ndarray, np.ndarray]:
    """(values, known) of an operand over the rows; numbers as floats, categories as text."""
    n = len(frame)
    if isinstance(operand, Column):
        series = frame[operand.name]
        known = series.notna().to_numpy()
        if numeric:
            return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float), known
        return series.astype(object).map(lambda v: v if pd.isna(v) else str(v)).to_numpy(), known
    value = float(operand) if numeric else _as_text(operand)
    return np.full(n, value, dtype=float if numeric else object), np.ones(n, dtype=bool)


def _kleene(values: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(np.asarray(values, dtype=bool) & known, ~known)


def _atom(atom: Atom, frame: pd.DataFrame, facts: Mapping[str, ColumnFacts]) -> pd.arrays.BooleanArray:
    if isinstance(atom, IsMissing):
        missing = frame[atom.column].isna().to_numpy()
        return _kleene(missing != atom.negate, np.ones(len(frame), dtype=bool))
    if isinstance(atom, InCategory):
        parent_of = facts[atom.column].parent_of or {}
        child, parent = frame[atom.column].astype(object), frame[atom.parent].astype(object)
        known = (child.notna() & parent.notna()).to_numpy()
        mapped = child.map(lambda v: parent_of.get(str(v)) if pd.notna(v) else None).to_numpy()
        inside = np.array([m is not None and m == str(p) for m, p in zip(mapped, parent.to_numpy())], dtype=bool)
        return _kleene((inside & known) != atom.negate, known)
    if isinstance(atom, InList):
        numeric = facts[atom.column].numeric
        values, known = _values(Column(atom.column), frame, numeric)
        wanted = [float(v) for v in atom.values] if numeric else [_as_text(v) for v in atom.values]
        inside = np.isin(values, wanted) & known
        return _kleene(inside != atom.negate, known)
    numeric = any(isinstance(o, Column) and facts[o.name].numeric for o in (atom.left, atom.right))
    left, known_left = _values(atom.left, frame, numeric)
    right, known_right = _values(atom.right, frame, numeric)
    known = known_left & known_right
    result = np.zeros(len(frame), dtype=bool)
    result[known] = _OPS[atom.op](left[known], right[known])
    return _kleene(result, known)


def _all(atoms: Sequence[Atom], frame: pd.DataFrame, facts: Mapping[str, ColumnFacts]):
    out = pd.array(np.ones(len(frame), dtype=bool), dtype="boolean")
    for atom in atoms:
        out = out & _atom(atom, frame, facts)
    return out


def premise_holds(rule: Rule, frame: pd.DataFrame, facts: Mapping[str, ColumnFacts]) -> np.ndarray:
    """Rows where the rule's premise is true (not unknown); every row for a rule without premise."""
    if not rule.premise:
        return np.ones(len(frame), dtype=bool)
    return (_all(rule.premise, frame, facts) == True).fillna(False).to_numpy(dtype=bool)  # noqa: E712


def conclusion_columns(rule: Rule) -> list[str]:
    """The columns the conclusion constrains (what conditioning on the premise redraws)."""
    return Rule(rule.text, (), rule.conclusion).columns


def violations(rule: Rule, frame: pd.DataFrame, facts: Mapping[str, ColumnFacts]) -> np.ndarray:
    """Boolean mask of the rows that break ``rule`` (premise true and conclusion false; unknown is not a
    break). ``facts`` says which columns are numbers and maps child values to parents for category(...)."""
    holds = _all(rule.conclusion, frame, facts)
    if rule.premise:
        holds = ~_all(rule.premise, frame, facts) | holds
    return (holds == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712 (Kleene: NA is not a break)
