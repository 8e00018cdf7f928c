"""Consistency rules as the sampler's last step: conditioning on a rule's premise, then rejection.

A raw row that breaks a rule WITH a premise (``education == 'Bachelors' -> education_num == 13``) is repaired by
conditioning: its conclusion columns are redrawn from the model's own rows of the same batch in which that
premise holds and every rule is obeyed, the rest of the row kept. Rejecting such rows instead would condition the
whole model on consistency and bend the premise column's distribution (a level whose model rows are more often
inconsistent would be under-sampled: on Adult at epsilon 1, rejection doubled the 1-way error of education).
Rows still breaking a rule (rules without a premise, no donor, or a repair that broke another rule) are
rejected and redrawn, so the output obeys every rule. Only synthetic rows and public rules are read: this is
post-processing and spends no budget (a record/replay test in tests/generators checks it). What a reviewer sees:

* the public receipt (in the generator's guarantee details, published with the run): each rule and the share of
  the model's raw rows that break it, and the overall repair and rejection rates, measured on PROBE_ROWS rows
  drawn from the fitted model with a fixed public seed;
* the count of raw rows breaking each rule in the sample actually drawn (``RuleReport``), for the review.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from privsynth.data.domain import PublicDomain
from privsynth.errors import PrivsynthError
from privsynth.rules import conclusion_columns, premise_holds, violations

PROBE_ROWS = 10_000
PROBE_SEED = 0
MAX_BATCHES = 50

Draw = Callable[[int, np.random.Generator], pd.DataFrame]


@dataclass(frozen=True)
class RuleReport:
    """What the filter did to one sample: raw rows drawn, rows repaired and rejected, raw rows breaking each
    rule."""

    rows_drawn: int
    rows_rejected: int
    broken: Mapping[str, int] = field(default_factory=dict)
    rows_repaired: int = 0

    @property
    def rejection_rate(self) -> float:
        return self.rows_rejected / self.rows_drawn if self.rows_drawn else 0.0

    def receipt(self) -> dict[str, Any]:
        """The public form: shares of raw rows, not counts of any real table."""
        share = (lambda count: count / self.rows_drawn) if self.rows_drawn else (lambda count: 0.0)
        return {"rejection_rate": self.rejection_rate, "repair_rate": share(self.rows_repaired),
                "raw_rows": self.rows_drawn,
                "rules": [{"rule": rule, "broken_share": share(count)} for rule, count in self.broken.items()]}


def _repair(rows: pd.DataFrame, domain: PublicDomain, facts: Mapping[str, Any], broken: dict[str, int],
            rng: np.random.Generator) -> tuple[pd.DataFrame, int]:
    """Count each rule's raw breaks into ``broken``; redraw the conclusion columns of rows breaking a rule with a
    premise from rows (same batch, raw, obeying every rule) where that premise holds. Returns rows, repaired."""
    masks = {rule.text: violations(rule, rows, facts) for rule in domain.rules}
    for text, mask in masks.items():
        broken[text] += int(mask.sum())
    clean = ~np.logical_or.reduce(list(masks.values()))
    rows, repaired = rows.copy(), np.zeros(len(rows), dtype=bool)
    for rule in domain.rules:
        bad = np.flatnonzero(violations(rule, rows, facts)) if rule.premise else np.array([], dtype=np.int64)
        donors = np.flatnonzero(clean & premise_holds(rule, rows, facts)) if len(bad) else bad
        if not len(donors):
            continue
        picks = rng.choice(donors, size=len(bad))
        for column in conclusion_columns(rule):
            values = rows[column].copy()
            values.iloc[bad] = rows[column].iloc[picks].to_numpy()
            rows[column] = values
        repaired[bad] = True
    return rows, int(repaired.sum())


def draw_with_rules(draw: Draw, n: int, rng: np.random.Generator, domain: PublicDomain) -> tuple[pd.DataFrame, RuleReport]:
    """``n`` rows from ``draw`` that obey every rule of ``domain``. The first batch is ``n`` rows, so a model
    that breaks no rule gives the very table it would give unfiltered; later batches are sized by the
    acceptance seen so far. Raises when the rules reject nearly everything (a rule the data does not obey)."""
    if not domain.rules:
        return draw(n, rng), RuleReport(n, 0)
    facts = domain.rule_facts()
    kept: list[pd.DataFrame] = []
    broken = {rule.text: 0 for rule in domain.rules}
    have = drawn = rejected = repaired = 0
    batch = n
    for _ in range(MAX_BATCHES):
        rows, fixed = _repair(draw(batch, rng), domain, facts, broken, rng)
        bad = np.logical_or.reduce([violations(rule, rows, facts) for rule in domain.rules])
        drawn, rejected, repaired = drawn + len(rows), rejected + int(bad.sum()), repaired + fixed
        kept.append(rows[~bad].iloc[: n - have])
        have += len(kept[-1])
        if have >= n:
            table = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0].reset_index(drop=True)
            return table, RuleReport(drawn, rejected, broken, repaired)
        acceptance = max((drawn - rejected) / drawn, 1e-3)
        batch = int(math.ceil((n - have) / acceptance * 1.1)) + 10
    worst = max(broken, key=broken.get)  # type: ignore[arg-type]
    raise PrivsynthError(f"data.rules: only {100 * (drawn - rejected) / drawn:.2f}% of the model's rows obey the "
                         f"rules ({100 * broken[worst] / drawn:.1f}% break {worst!r}); check that every real row "
                         "obeys them, or remove the rule")


def probe_receipt(draw: Draw, domain: PublicDomain) -> dict[str, Any] | None:
    """The public receipt of the fitted model: rules and rejection rate on PROBE_ROWS raw rows drawn with a
    public seed (None without rules)."""
    if not domain.rules:
        return None
    rng = np.random.default_rng([PROBE_SEED, 0x9B0])
    facts = domain.rule_facts()
    broken = {rule.text: 0 for rule in domain.rules}
    rows, repaired = _repair(draw(PROBE_ROWS, rng), domain, facts, broken, rng)
    rejected = int(np.logical_or.reduce([violations(rule, rows, facts) for rule in domain.rules]).sum())
    return RuleReport(len(rows), rejected, broken, repaired).receipt()
