"""The threat model: the one document that says what is released, against whom, and under what budget.

It is validated by pydantic so that ``privsynth validate`` can report *every* problem with its field path,
and exported as JSON Schema so editors can check the YAML as it is typed. Column domains here are PUBLIC
knowledge: encoders, bins and category lists are built from them alone, never from the private table.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model, field_validator,
                      model_validator)

from privsynth.checks import CATALOGUE, Check
from privsynth.generator_config import AIMGenerator, GeneratorSpec
from privsynth.columns import (CategoricalColumn, ColumnSpec, Number, NumericColumn, ParentSpec, column_facts,
                               hierarchy_problems)
from privsynth.columns import Strict as _Strict
from privsynth.columns import plain_number
from privsynth.errors import ThreatModelError
from privsynth.rules import RuleSyntaxError, parse_rule, rule_problems
from privsynth.safe_yaml import MAX_BYTES, UnsafeYAML, quote
from privsynth.safe_yaml import load as safe_load

__all__ = ["BUNDLED_PREFIX", "CategoricalColumn", "ColumnSpec", "DataSpec", "LoadedThreatModel", "NumericColumn",
           "ParentSpec", "ThreatModel", "json_schema", "load_threat_model", "parse_override"]

BUNDLED_PREFIX = "bundled:"
#: characters of a user's text quoted in a message
QUOTE = 60
#: what a public document shows in place of a path on the steward's machine
PRIVATE_PLACEHOLDER = "(private)"


class DataSpec(_Strict):
    source: str = Field(description="Path to a CSV or Parquet file (relative to the YAML), or 'bundled:adult'.")
    dataset: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="The registered name of the data set in the budget ledger (default: the threat model's name). "
        "Every run of the same data must use the same name: budgets are booked against it, not against a file.")
    holdout: str | None = Field(default=None, description="Optional separate holdout file (same columns).")
    holdout_fraction: Number = Field(default=0.2, gt=0.0, lt=1.0, description="Without a holdout file, each row "
                                    "goes to the holdout with this probability, by the run's secret randomness.")
    drop_columns: list[str] = Field(default_factory=list, description="Declared columns left out of synthesis.")
    out_of_domain: Literal["error", "clip"] = Field(
        default="error",
        description="error: refuse the table; clip: clamp numbers to the bounds and map unknown "
        "categories to the column's fallback (counted for the internal report only).",
    )
    target: str | None = Field(default=None, description="Column predicted in the train-on-synthetic check.")
    person_column: str | None = Field(
        default=None, description="The column that names the person a row belongs to (a patient number, a customer "
        "id) when one person can have several rows. Declared under data.columns and listed in data.drop_columns: it "
        "is never released nor used as an attack feature; it groups rows for the person-level guarantee "
        "(privacy.unit), the train/holdout split (a person's rows all on one side) and the person-level attacks.")
    columns: dict[str, ColumnSpec] = Field(min_length=2, description="The PUBLIC domain of every column.")
    rules: list[str] = Field(
        default_factory=list, description="Public consistency rules every real row obeys, e.g. 'age < 15 -> "
        "marital_status is missing', 'capital_loss <= capital_gain', 'indp in category(indp_cat)'. Generators that "
        "enforce them (aim, mst) reject synthetic rows that break one (post-processing: no budget); the rejection "
        "rate is published with the run.")

    @field_validator("rules")
    @classmethod
    def _rules_parse(cls, rules: list[str]) -> list[str]:
        problems = []
        for i, text in enumerate(rules):
            try:
                parse_rule(text)
            except RuleSyntaxError as exc:
                problems.append(f"rule {i} {text!r}: {exc}")
        if problems:
            raise ValueError(" | ".join(problems))
        return rules

    @model_validator(mode="after")
    def _structure(self) -> "DataSpec":
        problems = self.structure_problems()
        if problems:
            raise ValueError(" | ".join(problems))
        return self

    @property
    def kept_columns(self) -> dict[str, "NumericColumn | CategoricalColumn"]:
        return {n: c for n, c in self.columns.items() if n not in self.drop_columns}

    def structure_problems(self) -> list[str]:
        """Hierarchies, rules and quantile budget shares checked against the kept columns."""
        kept = self.kept_columns
        problems = hierarchy_problems(kept, self.target)
        facts = column_facts(kept)
        for i, text in enumerate(self.rules):
            problems += [f"data.rules[{i}] {text!r}: {p}" for p in rule_problems(parse_rule(text), facts)]
        share = sum(c.quantile_share for c in kept.values() if isinstance(c, NumericColumn) and c.bins == "quantile")
        if share > 0.5:
            problems.append(f"the quantile_share of bins: quantile columns add up to {share:g}; keep the sum at or "
                            "below 0.5 so the generator keeps most of the budget")
        return problems


class AttackerSpec(_Strict):
    """Empty lists are valid (a draft from ``privsynth init`` leaves them to a person) but ``run`` refuses
    them: the linkability and inference checks need both, and a check that cannot run blocks the release."""

    known_columns: list[str] = Field(default_factory=list, description="Quasi-identifiers the attacker already "
                                     "knows (age, zip code, ...); `run` needs at least one.")
    secret_columns: list[str] = Field(default_factory=list, description="Attributes the attacker tries to infer; "
                                      "`run` needs at least one.")


class PrivacySpec(_Strict):
    epsilon: Number = Field(gt=0.0, le=100.0, description="This run's privacy budget epsilon.")
    delta: Number = Field(default=1e-9, gt=0.0, lt=1.0, description="This run's delta (well below 1 / rows).")
    allow_non_dp: bool = Field(default=False, description="Permit generators without a DP guarantee.")
    total_epsilon: Number | None = Field(
        default=None, gt=0.0, description="Budget for ALL runs of the data set (data.dataset) in the steward's "
        "ledger, fixed when the data set is first registered: a later run may lower it, never raise it. A run whose "
        "epsilon would bring the spend above it is refused before training. null: the registered total applies "
        "(uncapped if none was ever declared).")
    total_delta: Number | None = Field(
        default=None, gt=0.0, lt=1.0, description="Cap on the sum of the deltas of all runs of the data set, "
        "registered like total_epsilon.")
    unit: Literal["row", "person"] | None = Field(
        default=None, description="What (epsilon, delta) protects: one row, or one person with all their rows "
        "(data.person_column). Default: person when a person column is declared, else row.")
    max_rows_per_person: int | None = Field(
        default=None, ge=1, le=1000, description="Contribution bound k of a person-level run: each person keeps at "
        "most k rows, chosen by the run's secret randomness, before anything else reads the table; every mechanism "
        "then charges for k rows at once (noise k times larger). A PUBLIC choice of the steward, never read from "
        "the data: a larger k keeps more rows of frequent persons and adds more noise.")

    @model_validator(mode="after")
    def _run_within_total(self) -> "PrivacySpec":
        if self.total_epsilon is not None and self.epsilon > self.total_epsilon:
            raise ValueError(f"epsilon ({self.epsilon:g}) exceeds total_epsilon ({self.total_epsilon:g})")
        if self.total_delta is not None and self.delta > self.total_delta:
            raise ValueError(f"delta ({self.delta:g}) exceeds total_delta ({self.total_delta:g})")
        return self


class ShadowSpec(_Strict):
    """Shadow-model membership inference against the configured generator, and the empirical epsilon audit.
    Defaults finish in minutes on 2 cores for mst; every shadow run is one generator fit."""

    enabled: bool = Field(default=True, description="Run the shadow-model attack and its epsilon audit.")
    targets: int = Field(default=10, ge=1, le=500, description="How many training records to attack.")
    selection: Literal["isolated", "random"] = Field(
        default="isolated", description="isolated: the records farthest from their 5 nearest neighbours (the "
        "ones that leak); random: a seeded uniform draw (the comparison).")
    target_rows: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=list, description="Row numbers (0-based) in data.source to attack; replace selection.")
    shadow_runs: int = Field(default=40, ge=4, le=10_000, description="Generator fits; half train the "
                             "attack's classifier, half test it.")
    train_size: int = Field(default=1000, ge=20, description="Rows of each shadow training set (drawn from "
                            "the holdout, the attacker's reference population).")
    synthetic_rows: int | None = Field(default=None, ge=1, description="Rows sampled per shadow run; default "
                                       "5 x train_size (less sampling noise helps the attacker: gaussian-copula "
                                       "on Adult, m=1000, AUC 0.57 with 1,000 rows, 0.64 with 5,000).")

    @model_validator(mode="after")
    def _room_for_targets(self) -> "ShadowSpec":
        n_targets = len(self.target_rows) or self.targets
        if self.train_size <= n_targets:
            raise ValueError(f"train_size ({self.train_size}) must exceed the number of targets ({n_targets})")
        return self


class AuditSpec(_Strict):
    """The one-run canary audit (attacks/canary.py, Steinke, Nasr & Jagielski 2023): canaries from the public
    domain, each added with probability 1/2 to holdout rows, the release's generator fitted ``runs`` times on
    them, and an epsilon lower bound from how well the synthetic tables give the canaries away. Independent
    of the shadow attack; every run is one generator fit."""

    enabled: bool = Field(default=True, description="Run the canary audit and the noise audit of its fits; a DP "
                          "release whose canary lower bound or noise-implied epsilon exceeds the claimed epsilon is "
                          "then blocked as an implementation fault.")
    canaries: int = Field(default=100, ge=10, le=100_000, description="Canaries per run (each in with "
                          "probability 1/2). About as many as a column has values keeps most canaries' rare values "
                          "their own.")
    runs: int = Field(default=6, ge=1, le=100, description="Generator fits, each with fresh coins; their "
                      "guesses are pooled (the bound holds for any number of runs).")
    base_rows: int = Field(default=500, ge=20, description="Holdout rows each audit table holds besides its "
                           "canaries (never a training row of the release).")
    synthetic_rows: int | None = Field(default=None, ge=1, description="Rows sampled per fit; default 40 x the "
                                       "audit table's expected size (base_rows + canaries / 2).")


class AttackSpec(_Strict):
    sample_size: int = Field(default=2000, ge=50, description="Rows per side (targets, control) an attack uses.")
    n_attacks: int = Field(default=500, ge=10, description="Attacks per anonymeter evaluator (more: narrower "
                           "intervals).")
    seed: int = Field(default=0, ge=0, description="Seed of the attacks' sampling (public).")
    shadow: ShadowSpec = Field(default_factory=ShadowSpec, description="The shadow-model attack.")
    audit: AuditSpec = Field(default_factory=AuditSpec, description="The one-run canary audit of epsilon.")


class ComputeSpec(_Strict):
    """Where independent tasks (shadow fits) and neural training run."""

    scheduler: str | None = Field(
        default=None, description="null: an embedded local dask cluster; 'tcp://host:port': an existing dask "
        "scheduler; 'synchronous': one after another in this process (debugging).")
    workers: int | None = Field(default=None, ge=1, description="Local cluster size; default one per core.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Where neural generators train: auto = a CUDA GPU when torch sees one, else "
        "CPU; cuda without a GPU is an error. Changes speed, not the guarantee.")

    @field_validator("scheduler")
    @classmethod
    def _known_scheduler(cls, value: str | None) -> str | None:
        if value is None or value == "synchronous" or re.match(r"^(tcp|tls|inproc|ucx)://\S+$", value):
            return value
        raise ValueError(f"{quote(value)} is not null, 'synchronous' or a scheduler address like tcp://host:8786")


def _gate_field(check: Check) -> tuple[Any, Any]:
    low, high = check.threshold_range
    return (Annotated[float | Literal["report"], BeforeValidator(plain_number)], Field(
        default=check.default_threshold,
        description=f"{check.meaning}. Blocks when the upper end of its 95% interval exceeds this (between {low:g} "
                    f"and {high:g}), or 'report' to measure it without gating."))


class _Gates(_Strict):
    """Upper bounds, one per gated check of the catalogue. A check passes when the upper end of its 95% interval
    is within its bound; the epsilon audit needs no threshold (its bound is the claimed epsilon)."""

    @model_validator(mode="after")
    def _within_range(self) -> "_Gates":
        problems = []
        for name, value in self:
            low, high = CATALOGUE[name].threshold_range
            if value != "report" and not (low <= value <= high and math.isfinite(value)):
                problems.append(f"{name} = {value:g} is outside [{low:g}, {high:g}] (a threshold on its scale, "
                                "or 'report')")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def threshold(self, check: str) -> float | None:
        """The bound of a gated check; None when the threat model asks for it to be reported only."""
        value = getattr(self, check, CATALOGUE[check].default_threshold)
        return None if value == "report" or value is None else float(value)


GateSpec = create_model("GateSpec", __base__=_Gates,
                        **{c.name: _gate_field(c) for c in CATALOGUE.values() if c.gated})


class OutputSpec(_Strict):
    directory: str = Field(default="reports", description="Where run folders go (relative to the working folder).")
    formats: list[Literal["parquet", "csv"]] = Field(default_factory=lambda: ["parquet"], min_length=1,
                                                     description="Table formats of the release (Parquet always).")


class ThreatModel(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Names the runs (and, by "
                      "default, the data set in the ledger).")
    description: str | None = Field(default=None, description="What the table is, in a sentence.")
    data: DataSpec = Field(description="The table, its holdout and its public domain.")
    attacker: AttackerSpec = Field(description="What the attacker knows and wants.")
    privacy: PrivacySpec = Field(description="The budget.")
    generator: GeneratorSpec = Field(default_factory=lambda: AIMGenerator(kind="aim"),
                                     description="The generator, by kind, with its parameters.")
    attacks: AttackSpec = Field(default_factory=AttackSpec, description="Sizes and seed of the attack suite.")
    gates: GateSpec = Field(default_factory=lambda: GateSpec(), description="The release thresholds, one per check "
                            "of the catalogue (privsynth/checks.py); a number, or 'report' to measure without gating.")
    output: OutputSpec = Field(default_factory=OutputSpec, description="Where and how runs are written.")
    compute: ComputeSpec = Field(default_factory=ComputeSpec, description="Where independent tasks run.")

    @model_validator(mode="after")
    def _columns_are_declared(self) -> "ThreatModel":
        declared = set(self.data.columns)
        problems = []
        for where, names in (
            ("attacker.known_columns", self.attacker.known_columns),
            ("attacker.secret_columns", self.attacker.secret_columns),
            ("data.drop_columns", self.data.drop_columns),
        ):
            unknown = [c for c in names if c not in declared]
            if unknown:
                problems.append(f"{where} names undeclared column(s) {unknown}; declare them under data.columns")
        for where, names in (("attacker.known_columns", self.attacker.known_columns),
                             ("attacker.secret_columns", self.attacker.secret_columns)):
            dropped = [c for c in names if c in self.data.drop_columns]
            if dropped:
                problems.append(f"{where} {dropped} are also in data.drop_columns, so no attack could use them; "
                                "keep them or take them out of the attacker section")
        overlap = set(self.attacker.known_columns) & set(self.attacker.secret_columns)
        if overlap:
            problems.append(f"attacker: {sorted(overlap)} cannot be both known and secret")
        if self.data.target is not None and self.data.target not in declared:
            problems.append(f"data.target {self.data.target!r} is not a declared column")
        if self.data.target is not None and self.data.target in self.data.drop_columns:
            problems.append(f"data.target {self.data.target!r} is dropped by data.drop_columns")
        problems += self._person_problems()
        if self.data.out_of_domain == "clip":
            lacking = [n for n, c in self.data.columns.items() if c.type == "categorical" and c.fallback is None]
            if lacking:
                problems.append(f"out_of_domain: clip needs a fallback category for {lacking}")
        if problems:
            raise ValueError(" | ".join(problems))
        return self

    def _person_problems(self) -> list[str]:
        """A person column must be declared and dropped (never released, never an attack feature); a
        person-level unit needs one and a public contribution bound."""
        person, privacy = self.data.person_column, self.privacy
        problems = []
        if person is not None and person not in self.data.columns:
            problems.append(f"data.person_column {person!r} is not declared under data.columns; declare it (any "
                            "type; its domain is never used) and list it in data.drop_columns")
        elif person is not None and person not in self.data.drop_columns:
            problems.append(f"data.person_column {person!r} would be released as a column; add it to "
                            "data.drop_columns (person ids are never synthesised)")
        if privacy.unit == "person" and person is None:
            problems.append("privacy.unit: person needs data.person_column (the column naming each row's person)")
        if self.privacy_unit == "person" and privacy.max_rows_per_person is None:
            problems.append("privacy.max_rows_per_person is missing: a person-level run needs a public bound k on "
                            "the rows one person contributes (e.g. 3; `privsynth init` suggests one)")
        if self.privacy_unit == "row" and privacy.max_rows_per_person is not None:
            problems.append("privacy.max_rows_per_person applies to privacy.unit: person only; remove it or set "
                            "the unit to person")
        return problems

    @property
    def privacy_unit(self) -> Literal["row", "person"]:
        """What the guarantee protects: privacy.unit, or by default person exactly when a person column is set."""
        return self.privacy.unit or ("person" if self.data.person_column is not None else "row")

    @property
    def rows_per_person(self) -> int:
        """The contribution bound every mechanism charges for: k for a person-level run, 1 for a row-level one
        (one row is the unit, so one row is what a neighbouring table adds or removes)."""
        return int(self.privacy.max_rows_per_person or 1) if self.privacy_unit == "person" else 1

    @property
    def kept_columns(self) -> dict[str, NumericColumn | CategoricalColumn]:
        """The public domain of the columns that are synthesised (declared minus dropped)."""
        return self.data.kept_columns

    @property
    def dataset(self) -> str:
        """The data set's name in the budget ledger."""
        return self.data.dataset or self.name

    @property
    def unconfirmed_columns(self) -> list[str]:
        return [n for n, c in self.data.columns.items() if not c.confirmed]

    def draft_problems(self) -> list[str]:
        """What a valid draft (from `privsynth init`) still lacks before `run` accepts it: `validate` shows these
        as warnings, the run's preflight refuses them."""
        problems = []
        if self.unconfirmed_columns:
            problems.append(f"data.columns {self.unconfirmed_columns} are not confirmed as public (bounds or "
                            "categories read from data); check they are public knowledge, then set confirmed: true")
        for where in ("known_columns", "secret_columns"):
            if not getattr(self.attacker, where):
                problems.append(f"attacker.{where} is empty; name the columns (see the comment `privsynth init` "
                                "wrote)")
        return problems

    def public_document(self) -> dict[str, Any]:
        """The threat model as a public release may show it: the source and holdout paths (which name files on
        the steward's machine) and shadow target row numbers (which name source rows) are taken out."""
        document = self.model_dump(mode="json")
        document["data"]["source"] = PRIVATE_PLACEHOLDER
        if document["data"]["holdout"] is not None:
            document["data"]["holdout"] = PRIVATE_PLACEHOLDER
        document["attacks"]["shadow"]["target_rows"] = []
        return document

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


class LoadedThreatModel(BaseModel):
    """A validated threat model together with where it came from (paths resolve against its folder)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    model: ThreatModel
    path: Path
    overrides: tuple[str, ...] = ()

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)


_UNION_TAGS = {"integer", "float", "categorical", "aim", "mst", "dp-tvae", "dp-ctgan", "gaussian-copula", "ctgan",
               "tvae"}


def _format_location(loc: tuple[Any, ...]) -> str:
    """pydantic puts a discriminated union's tag into the path ("columns.age.integer.min",
    "generator.aim.params.degree"); the user wrote neither, so it is dropped."""
    parts = [str(p) for p in loc if not str(p).startswith("function-")]
    cleaned = [p for i, p in enumerate(parts)
               if not (p in _UNION_TAGS and i > 0 and (parts[i - 1] == "generator" or
                                                      (i > 1 and parts[i - 2] == "columns")))]
    return ".".join(cleaned) or "(top level)"


_FIXES = {
    "extra_forbidden": "remove it or check its spelling (see `privsynth schema`)",
    "missing": "add it",
    "greater_than": "use a larger value",
    "less_than": "use a smaller value",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "string_pattern_mismatch": "use letters, digits, '_', '.', '-' (max 64 characters)",
    "union_tag_not_found": "add `type: integer|float|categorical` (a column) or `kind:` (the generator)",
}


def _cut(text: str, limit: int) -> str:
    """Messages may quote what the user wrote (a key, a rule, an address): never more than ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _problems(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        loc = _format_location(tuple(e["loc"]))
        if e["type"] in ("union_tag_invalid", "union_tag_not_found"):  # name the field the user wrote
            loc += "." + str(e.get("ctx", {}).get("discriminator", "kind")).strip("'")
        msg = _cut(e["msg"].removeprefix("Value error, "), 1000)
        fix = _FIXES.get(e["type"])
        out.append(f"{_cut(loc, 200)}: {msg}" + (f" ({fix})" if fix else ""))
    return out


def parse_override(assignment: str) -> tuple[list[str], Any]:
    """``generator.kind=mst`` -> (["generator", "kind"], "mst"); the value is parsed as YAML."""
    if "=" not in assignment:
        raise ThreatModelError("--set", [f"{quote(assignment)} is not FIELD=VALUE (e.g. privacy.epsilon=3)"])
    key, raw = assignment.split("=", 1)
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ThreatModelError("--set", [f"{quote(assignment)} has no field name"])
    try:
        value = safe_load(raw) if raw.strip() else ""
    except UnsafeYAML as exc:
        raise ThreatModelError("--set", [f"{key.strip()[:QUOTE]}: {exc}"]) from None
    except yaml.YAMLError:
        value = raw
    return path, value


def _apply_override(doc: dict[str, Any], path: list[str], value: Any, text: str) -> None:
    node: Any = doc
    for part in path[:-1]:
        if not isinstance(node, dict):
            raise ThreatModelError("--set", [f"{quote(text)}: {quote(part)} is not a section"])
        node = node.setdefault(part, {})
    if not isinstance(node, dict):
        raise ThreatModelError("--set", [f"{quote(text)}: cannot set a field inside a non-section"])
    node[path[-1]] = value


def load_threat_model(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> LoadedThreatModel:
    """Read, override and validate a threat model; raise ThreatModelError listing every problem."""
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise ThreatModelError(source, ["is a folder, not a threat model file (give the YAML file inside it)"])
    if not path.is_file():
        raise ThreatModelError(source, ["file not found (check the path, or create one with `privsynth init`)"])
    try:
        if path.stat().st_size > MAX_BYTES:
            raise UnsafeYAML(f"larger than {MAX_BYTES // 1_000_000} MB; a threat model is a few kB")
        doc = safe_load(path.read_text(encoding="utf-8"))
    except UnsafeYAML as exc:
        raise ThreatModelError(source, [f"refused YAML: {exc}"]) from None
    except OSError as exc:
        raise ThreatModelError(source, [f"cannot be read ({exc.strerror})"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = (getattr(exc, "problem", None) or str(exc).splitlines()[0])[:200]
        raise ThreatModelError(source, [f"malformed YAML at {where}: {problem} (fix the indentation or quoting)"]) \
            from None
    except UnicodeDecodeError:
        raise ThreatModelError(source, ["not a UTF-8 text file (save the threat model as UTF-8 YAML)"])
    if not isinstance(doc, dict):
        raise ThreatModelError(source, ["the file must be a YAML mapping with name, data, attacker, privacy, ..."])
    for text in overrides:
        keys, value = parse_override(text)
        _apply_override(doc, keys, value, text)
    try:
        model = ThreatModel.model_validate(doc)
    except ValidationError as err:
        raise ThreatModelError(source, _problems(err)) from None
    return LoadedThreatModel(model=model, path=path.resolve(), overrides=tuple(overrides))


def json_schema() -> dict[str, Any]:
    return ThreatModel.model_json_schema()
