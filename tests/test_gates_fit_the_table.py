"""Gates that fit the table (issue 21): a threshold that unseen real rows already fail stops the run before the
fit, with one line naming the check and the null figure, and no budget booked; the anonymeter gates bound the
risk above the null control, so a population-level guess is not blamed on the synthetic table."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from privsynth.cli import app
from privsynth.generator_config import GaussianCopulaParams
from privsynth.generators import registry
from privsynth.generators.base import Generator, Progress, silent
from privsynth.pipeline import run
from privsynth.privacy.ledger import BudgetLedger
from privsynth.privacy.private_data import PrivateData
from privsynth.results import Guarantee
from tests.conftest import LOOSE_GATES


def test_a_gate_the_holdout_already_fails_stops_before_the_fit(tmp_path, write_threat_model):
    home = tmp_path / "home"
    # both membership gates at 0.5: unseen rows reach it on one side or the other (both null upper ends below 0.5
    # happen about once in a thousand runs); the message names whichever fails
    path = write_threat_model(**{**LOOSE_GATES, "gates__membership_distance_auc": 0.5, "gates__dcr_closer_to_train": 0.5})
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--home", str(home)])
    assert result.exit_code == 2, result.output
    assert "= 0.5: unseen real rows (the null control) already reach" in " ".join(result.output.split())
    assert "Traceback" not in result.output and "done fitting" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (home / "ledger.sqlite").exists() or BudgetLedger(home / "ledger.sqlite").spends() == []


def test_the_review_states_null_candidate_and_threshold(pipeline_runs):
    released, _ = pipeline_runs
    report = json.loads((released.review_dir / "report.json").read_text())
    assert report["attack_sizes"]["n_attacks_declared"] == 100 and 0 < report["attack_sizes"]["rows_per_side"] <= 300
    relative = [a for a in report["attacks"] if a["name"].startswith("singling_out")]  # gated at this size
    assert relative and all(a["details"]["threshold_is"] == "risk above the null control" for a in relative)
    for attack in relative:
        figures = attack["details"]["excess_over_null"]
        assert figures["candidate"] == attack["estimate"] and figures["threshold"] == attack["threshold"]
        assert figures["excess"] == figures["candidate"] - figures["null"]


class CopyTrainingRows(Generator):
    """A non-DP 'generator' that republishes its training rows (resampled): what the gate exists to stop."""

    kind = "gaussian-copula"
    is_dp = False
    params_model = GaussianCopulaParams

    def fit(self, private: PrivateData, progress: Progress = silent) -> "CopyTrainingRows":
        self.rows_ = private.raw_frame_for_non_dp_baseline()
        self.default_rows_ = len(self.rows_)
        return self

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        picks = np.random.default_rng(seed).integers(0, len(self.rows_), n)
        return self.rows_.iloc[picks].reset_index(drop=True)

    @property
    def guarantee_(self) -> Guarantee:
        return Guarantee(dp=False, mechanism="copies its training rows", epsilon=None, delta=None,
                         accounting="none")


def test_a_table_of_copied_training_rows_is_still_blocked(tmp_path, write_threat_model, monkeypatch):
    """Relative anonymeter gates and the null preflight must not open the gate to a table that leaks."""
    monkeypatch.setitem(registry.GENERATORS, "gaussian-copula", CopyTrainingRows)
    path = write_threat_model(generator__kind="gaussian-copula", generator__params={},
                              privacy__allow_non_dp=True, **LOOSE_GATES)
    result = run(path, out=tmp_path / "out", home=tmp_path / "home")
    failed = {f.check for f in result.decision.failures}
    assert not result.decision.released and result.release_dir is None
    assert {"exact_copies", "membership_distance_auc"} <= failed, failed  # (linkability above the null fails too, mostly)


def test_the_blind_half_width_is_what_the_shadow_bootstrap_gives():
    """The closed form the sizing uses against the attack's own interval (resampled runs) on blind scores."""
    from privsynth.attacks.membership.shadow import ShadowScores, mean_auc_with_bootstrap
    from privsynth.attacks.stats import blind_mean_auc_half_width

    rng = np.random.default_rng(1)
    held_out, targets = 20, 12
    widths = []
    for rep in range(12):
        labels = rng.random((held_out, targets)) < 0.5
        scores = ShadowScores(np.zeros(1), np.zeros(1), labels, rng.random((held_out, targets)))
        estimate, (_, high) = mean_auc_with_bootstrap(scores, rep, resamples=200)
        widths.append(high - estimate)
    assert abs(np.mean(widths) / blind_mean_auc_half_width(held_out, targets) - 1) < 0.15


def test_the_shadow_gate_gets_the_targets_its_interval_needs(adult_model):
    """Targets (no extra fit) are raised until a blind attack's half-width fits under half the margin above
    0.5; a gate no allowed count can judge is a threat-model error naming the runs and threshold to set."""
    from privsynth.attacks.stats import blind_mean_auc_half_width
    from privsynth.release.gate import shadow_sizing

    def with_shadow(threshold, **shadow):
        spec = adult_model.attacks.shadow.model_copy(update=shadow)
        return adult_model.model_copy(update={
            "attacks": adult_model.attacks.model_copy(update={"shadow": spec}),
            "gates": adult_model.gates.model_copy(update={"shadow_auc": threshold})})

    kept = shadow_sizing(with_shadow(0.65, shadow_runs=60, targets=10))
    assert not kept.raised and kept.problem is None and kept.blind_half_width <= 0.075
    raised = shadow_sizing(with_shadow(0.65, shadow_runs=40, targets=10))
    assert raised.targets == 12 and raised.blind_half_width <= 0.075 < blind_mean_auc_half_width(20, 11)
    named = shadow_sizing(with_shadow(0.6, shadow_runs=8, target_rows=[1, 2, 3]))
    assert named.targets == 3 and "raise attacks.shadow.shadow_runs to" in named.problem
    assert shadow_sizing(with_shadow("report")) is None
    assert shadow_sizing(with_shadow(0.65, enabled=False)) is None


def test_a_gate_whose_attack_is_blind_on_the_table_is_a_threat_model_error(adult_model):
    """Diabetes' singling-out: the training rows themselves score barely above unseen rows, so the gate would
    block every table ("the attack is blind here"); the plan says so before the fit instead."""
    from privsynth.release.gate import blind_gates, declared_checks
    from privsynth.results import AttackResult

    declared = [d for d in declared_checks(adult_model) if d.name in ("singling_out_univariate", "exact_copies")]

    def result(name, estimate):
        return AttackResult(name, estimate, (max(0.0, estimate - 0.01), estimate + 0.01), 500)

    nulls = {"singling_out_univariate": result("singling_out_univariate", 0.02),
             "exact_copies": result("exact_copies", 0.0)}
    seeing = {"singling_out_univariate": result("singling_out_univariate", 0.5),
              "exact_copies": result("exact_copies", 1.0)}
    assert blind_gates(declared, nulls, seeing) == []
    blind = {**seeing, "singling_out_univariate": result("singling_out_univariate", 0.08)}
    [problem] = blind_gates(declared, nulls, blind)
    assert problem.startswith("gates.singling_out_univariate = 0.1: the attack is blind on this table")
    assert "+0.060 above the null control's 0.020" in problem and "set gates.singling_out_univariate: report" in problem
