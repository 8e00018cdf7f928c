"""Consistency rules as the sampler's last step: rows that break a public rule are rejected and redrawn.

Rejection sampling from a fitted model conditioned on the rules gives exactly the model's distribution
restricted to rows that obey them. It only looks at synthetic rows and public rules, so it is post-processing
and spends no budget (a record/replay test in tests/generators checks this). What a reviewer sees:

* the public receipt (in the generator's guarantee details, published with the run): each rule and the share of
  the model's raw rows that break it, and the overall rejection rate, measured on PROBE_ROWS rows drawn from
  the fitted model with a fixed public seed;
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
from privsynth.rules import violations

PROBE_ROWS = 10_000
PROBE_SEED = 0
MAX_BATCHES = 50

Draw = Callable[[int, np.random.Generator], pd.DataFrame]


@dataclass(frozen=True)
class RuleReport:
    """What the filter did to one sample: raw rows drawn, rows rejected, and raw rows breaking each rule."""

    rows_drawn: int
    rows_rejected: int
    broken: Mapping[str, int] = field(default_factory=dict)

    @property
    def rejection_rate(self) -> float:
        return self.rows_rejected / self.rows_drawn if self.rows_drawn else 0.0

    def receipt(self) -> dict[str, Any]:
        """The public form: shares of raw rows, not counts of any real table."""
        return {"rejection_rate": self.rejection_rate, "raw_rows": self.rows_drawn,
                "rules": [{"rule": rule, "broken_share": count / self.rows_drawn if self.rows_drawn else 0.0}
                          for rule, count in self.broken.items()]}


def draw_with_rules(draw: Draw, n: int, rng: np.random.Generator, domain: PublicDomain) -> tuple[pd.DataFrame, RuleReport]:
    """``n`` rows from ``draw`` that obey every rule of ``domain``. The first batch is ``n`` rows, so a model
    that breaks no rule gives the very table it would give unfiltered; later batches are sized by the
    acceptance seen so far. Raises when the rules reject nearly everything (a rule the data does not obey)."""
    if not domain.rules:
        return draw(n, rng), RuleReport(n, 0)
    facts = domain.rule_facts()
    kept: list[pd.DataFrame] = []
    broken = {rule.text: 0 for rule in domain.rules}
    have = drawn = rejected = 0
    batch = n
    for _ in range(MAX_BATCHES):
        rows = draw(batch, rng)
        bad = np.zeros(len(rows), dtype=bool)
        for rule in domain.rules:
            mask = violations(rule, rows, facts)
            broken[rule.text] += int(mask.sum())
            bad |= mask
        drawn, rejected = drawn + len(rows), rejected + int(bad.sum())
        kept.append(rows[~bad].iloc[: n - have])
        have += len(kept[-1])
        if have >= n:
            table = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0].reset_index(drop=True)
            return table, RuleReport(drawn, rejected, broken)
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
    rows = draw(PROBE_ROWS, np.random.default_rng([PROBE_SEED, 0x9B0]))
    facts = domain.rule_facts()
    masks = {rule.text: violations(rule, rows, facts) for rule in domain.rules}
    rejected = int(np.logical_or.reduce(list(masks.values())).sum())
    return RuleReport(len(rows), rejected, {t: int(m.sum()) for t, m in masks.items()}).receipt()
