"""A candidate too small to attack (MST at epsilon 0.01 on 600 rows estimated 1 row) gives "not measured"
results that block the release with a clear reason, never a traceback."""
from __future__ import annotations

import numpy as np
import pytest

from privsynth.attacks.base import attack_tables
from privsynth.attacks.registry import MIN_CANDIDATE_ROWS, run_checks
from privsynth.release.gate import decide, declared_checks


@pytest.mark.parametrize("rows", [0, 1, MIN_CANDIDATE_ROWS - 1])
def test_a_tiny_candidate_is_not_measured_and_blocks(rows, adult, adult_domain, adult_model):
    frame = adult_domain.cast(adult.sample(n=1200, random_state=np.random.RandomState(3)).reset_index(drop=True))
    train, holdout = frame.iloc[:800].reset_index(drop=True), frame.iloc[800:].reset_index(drop=True)
    data, null = attack_tables(train, holdout, adult_domain, 100, adult_model.attacker.known_columns,
                               adult_model.attacker.secret_columns, 20, 0)
    # the shadow attack and the audits fit the generator themselves: they do not read the candidate table
    declared = [d for d in declared_checks(adult_model) if d.check.kind == "attack"
                and d.check.scope not in ("shadow", "audit")]
    names = list(dict.fromkeys(d.check.name for d in declared))
    results = run_checks(data, holdout.iloc[:rows], names, {"null": null, "positive": data.members})
    assert {r.name for r in results} >= {d.name for d in declared}
    assert all(r.n == 0 and "at least" in r.details["skipped"] for r in results)
    _, _, decision = decide(declared, results, [], 1.0)
    gated = {d.name for d in declared if d.threshold is not None}
    assert not decision.released and {f.check for f in decision.failures} == gated
    assert all("not measured" in f.reason and f"{rows} row(s)" in f.reason for f in decision.failures)
