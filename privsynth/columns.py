"""Column domains of the threat model: the PUBLIC facts encoders, bins, hierarchies and rules are built from.

Split from threat_model.py (which re-exports these names): a numeric column's bounds and binning choice, a
categorical column's values and public parent, and the checks that tie hierarchies to declared columns.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from privsynth.rules import ColumnFacts


def plain_number(value: Any) -> Any:
    """Refuse what pydantic's lax mode would turn into a number by accident: a YAML boolean (``epsilon: true``
    would read as 1) and NaN (which fails every bound with a misleading message, "must be <= 100"). Anything
    else passes on to the field's own type and bounds."""
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is a boolean, not a number (write the number)")
    as_text = value.strip().lower() if isinstance(value, str) else None
    if (isinstance(value, float) and math.isnan(value)) or as_text in ("nan", ".nan", "+nan", "-nan"):
        raise ValueError("NaN is not a number (write a number)")
    return value


#: a float field of the threat model that refuses booleans and NaN by name
Number = Annotated[float, BeforeValidator(plain_number)]


#: integer columns with at most this many values are kept exact by default (anchors: binning costs more
#: than the mechanism: age, education_num and hours_per_week lose most of their fidelity in 10 bins)
EXACT_INTEGER_LIMIT = 128

#: the range of a 64-bit integer column, as floats (2**63 - 1 is not a float; 2**63 is the first value past it)
INT64_MIN, INT64_LIMIT = -float(2**63), float(2**63)


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a privacy setting must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NumericColumn(Strict):
    type: Literal["integer", "float"] = Field(description="A number: integer or float.")
    min: Number = Field(description="Public lower bound (documentation or a legal range, never read from data).")
    max: Number = Field(description="Public upper bound (documentation or a legal range, never read from data).")
    missing: bool = Field(default=False, description="Whether the column may be empty (missing is its own code).")
    bins: int | Literal["quantile"] | None = Field(
        default=None,
        description="Bins for marginal generators. Default: integers with at most 128 values kept exact, "
        "otherwise 32 equal-width bins over [min, max] (plus a bin of its own for 0 when 0 is inside). A number "
        "N: N bins, equal-width on the column's scale. 'quantile': quantile_bins cut points bought with "
        "quantile_share of the budget through a DP quantile mechanism (they are published as DP outputs).",
    )
    edges: list[Number] | None = Field(
        default=None, description="Explicit public cut points strictly inside (min, max), increasing; "
        "replaces bins.")
    scale: Literal["linear", "log"] = Field(
        default="linear", description="log: bins equal-width in sign(x)*log(1+|x|), for heavy-tailed ranges "
        "(incomes, weights, counts); it crosses zero symmetrically.")
    quantile_bins: int = Field(default=16, ge=2, le=256, description="Bins when bins: quantile (ignored otherwise).")
    quantile_share: Number = Field(
        default=0.02, gt=0.0, le=0.5, description="Share of the run's privacy budget (zCDP rho) spent on this "
        "column's cut points when bins: quantile (ignored otherwise).")
    within_bin: Literal["interpolated", "uniform"] = Field(
        default="interpolated", description="How a decoded number is placed inside its bin: interpolated = a "
        "linear density through the neighbouring bins' synthetic densities (post-processing); uniform.")
    confirmed: bool = Field(
        default=True,
        description="False when the bounds were read from data by `privsynth init`: a person must confirm "
        "they are public knowledge before `run` accepts the threat model.",
    )
    why: str | None = Field(default=None, description="Where the public bounds come from.")

    @property
    def coded_exactly(self) -> bool:
        """Whether marginal generators give every value a code of its own (an integer column with at most
        EXACT_INTEGER_LIMIT values and no binning declared)."""
        return (self.type == "integer" and self.bins is None and self.edges is None and self.scale == "linear"
                and self.max - self.min + 1 <= EXACT_INTEGER_LIMIT)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> "NumericColumn":
        if not (math.isfinite(self.min) and math.isfinite(self.max)):
            raise ValueError("min and max must be finite numbers")
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.type == "integer" and (self.min != int(self.min) or self.max != int(self.max)):
            raise ValueError("an integer column needs integer min and max")
        if self.type == "integer" and not (INT64_MIN <= self.min and self.max < INT64_LIMIT):
            raise ValueError(f"integer bounds [{self.min:g}, {self.max:g}] go beyond the 64-bit integer range "
                             "(about ±9.2e18) a table can hold exactly; use type: float, or bounds inside it")
        return self

    @model_validator(mode="after")
    def _binning_consistent(self) -> "NumericColumn":
        if self.edges is not None:
            if self.bins is not None:
                raise ValueError("give either edges or bins, not both")
            if not self.edges or any(not math.isfinite(e) for e in self.edges):
                raise ValueError("edges must be a non-empty list of finite numbers")
            if any(b <= a for a, b in zip(self.edges, self.edges[1:])):
                raise ValueError("edges must be strictly increasing")
            if self.edges[0] <= self.min or self.edges[-1] >= self.max:
                raise ValueError(f"edges must lie strictly inside ({self.min:g}, {self.max:g})")
        return self


class ParentSpec(Strict):
    """A public hierarchy: each value of the column belongs to one value of a coarser parent column.

    ``column`` names the parent. When it is a declared column of the table, generators derive it from the
    child, so every synthetic child lies inside its parent; otherwise it is a level used only to measure
    (e.g. ICD-9 chapters of a diagnosis code). The parent of a value is ``mapping[value]``, or its first
    ``prefix`` characters after left-padding the text before its first '.' with zeros to ``pad`` characters
    (ICD-9 codes that lost their leading zeros: '38' is 038)."""

    column: str = Field(min_length=1, description="The parent column (a declared column, or a level only measured).")
    mapping: dict[str, str] | None = Field(default=None, description="The parent of every value.")
    prefix: int | None = Field(default=None, ge=1, description="The parent is the value's first `prefix` characters.")
    pad: int | None = Field(default=None, ge=1, description="Left-pad the part before '.' with zeros to this width "
                            "before taking the prefix (ICD-9 codes that lost their leading zeros).")

    @model_validator(mode="after")
    def _one_rule(self) -> "ParentSpec":
        if (self.mapping is None) == (self.prefix is None):
            raise ValueError("give exactly one of mapping or prefix")
        if self.pad is not None and self.prefix is None:
            raise ValueError("pad applies to prefix rules only")
        return self

    def parent_of(self, value: str) -> str:
        if self.mapping is not None:
            return self.mapping[value]
        head, dot, tail = value.partition(".")
        if self.pad is not None and head.isdigit():
            head = head.zfill(self.pad)
        return (head + dot + tail)[: self.prefix]


class CategoricalColumn(Strict):
    type: Literal["categorical"] = Field(description="A category from a public list.")
    values: list[str] = Field(min_length=1, description="Every public category, in a meaningful order.")
    missing: bool = Field(default=False, description="Whether the column may be empty (missing is its own code).")
    fallback: str | None = Field(
        default=None,
        description="With out_of_domain: clip, unknown categories become this declared value.",
    )
    parent: ParentSpec | None = Field(default=None, description="A public parent of each value (a hierarchy).")
    confirmed: bool = Field(default=True, description="False when the list was read from data by `privsynth "
                            "init`: a person must confirm it is public knowledge before `run` accepts it.")
    why: str | None = Field(default=None, description="Where the public category list comes from.")

    @field_validator("values", mode="before")
    @classmethod
    def _as_strings(cls, values: Any) -> Any:
        if isinstance(values, list):
            return [str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in values]
        return values

    @model_validator(mode="after")
    def _unique_values(self) -> "CategoricalColumn":
        seen: set[str] = set()
        dupes = sorted({v for v in self.values if v in seen or seen.add(v)})  # type: ignore[func-returns-value]
        if dupes:
            raise ValueError(f"duplicate category values {dupes}")
        if self.fallback is not None and self.fallback not in self.values:
            raise ValueError(f"fallback {self.fallback!r} is not one of the declared values")
        if self.parent is not None and self.parent.mapping is not None:
            unmapped = [v for v in self.values if v not in self.parent.mapping]
            unknown = sorted(set(self.parent.mapping) - set(self.values))
            if unmapped or unknown:
                raise ValueError(f"parent.mapping must map exactly the declared values (unmapped: {unmapped[:5]}, "
                                 f"not declared: {unknown[:5]})")
        return self

    def parent_map(self) -> dict[str, str]:
        """Declared value -> its parent value (empty without a parent)."""
        return {v: self.parent.parent_of(v) for v in self.values} if self.parent is not None else {}


ColumnSpec = Annotated[Union[NumericColumn, CategoricalColumn], Field(discriminator="type")]


def column_facts(columns: dict[str, "NumericColumn | CategoricalColumn"]) -> dict[str, ColumnFacts]:
    """What rules may assume about each column (numeric or categorical, public values, parent)."""
    return {n: ColumnFacts(numeric=True) if isinstance(c, NumericColumn) else
            ColumnFacts(numeric=False, values=tuple(c.values), parent=c.parent.column if c.parent else None,
                        parent_of=c.parent_map() or None) for n, c in columns.items()}


def _integer_within(text: str, spec: NumericColumn) -> bool:
    try:
        value = int(text)
    except ValueError:
        return False
    return spec.min <= value <= spec.max


def hierarchy_problems(kept: dict[str, "NumericColumn | CategoricalColumn"], target: str | None) -> list[str]:
    problems, claimed = [], {}
    for name, spec in kept.items():
        if not isinstance(spec, CategoricalColumn) or spec.parent is None:
            continue
        parent = spec.parent.column
        where = f"data.columns.{name}.parent"
        if parent == name:
            problems.append(f"{where}: a column cannot be its own parent")
        elif parent in claimed:
            problems.append(f"{where}: {parent!r} is already the parent of {claimed[parent]!r} (one child per parent)")
        claimed[parent] = name
        if parent not in kept:
            continue  # a level used only to measure
        declared = kept[parent]
        if isinstance(declared, NumericColumn):
            if not declared.coded_exactly:
                problems.append(f"{where}: {parent!r} is a number; a derived number must be an integer column of "
                                f"at most {EXACT_INTEGER_LIMIT} values with no bins, edges or scale declared")
                continue
            outside = sorted({v for v in spec.parent_map().values() if not _integer_within(v, declared)})
        elif declared.parent is not None:
            problems.append(f"{where}: {parent!r} must be a column without a parent of its own")
            continue
        else:
            outside = sorted({v for v in spec.parent_map().values() if v not in declared.values})
        if outside:
            allowed = (f"integers in [{declared.min:g}, {declared.max:g}]" if isinstance(declared, NumericColumn)
                       else "declared values")
            problems.append(f"{where}: parent values {outside[:5]} are not {allowed} of {parent!r}")
        if spec.missing and not declared.missing:
            problems.append(f"{where}: {name!r} may be missing, so its parent {parent!r} must allow missing too")
        if parent == target:
            problems.append(f"{where}: the target {parent!r} cannot be derived from {name!r}; declare no parent")
    return problems
