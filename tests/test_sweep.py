"""privsynth sweep: the loop at several budgets, nothing released, every point booked in the ledger."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from privsynth.cli import app
from privsynth.errors import BudgetExceeded, PrivsynthError
from privsynth.privacy.ledger import BudgetLedger
from privsynth.data.inputs import read_inputs
from privsynth.privacy.noise import NoiseSource
from tests.conftest import TEST_NOISE_KEY
from privsynth.pipeline import plan_attacks
from privsynth.sweep import _evaluate_point, _PointSpec, parse_epsilons, sweep
from privsynth.threat_model import load_threat_model


def test_sweep_draws_the_curve_and_releases_nothing(write_threat_model, tmp_path):
    # two points side by side on a local dask cluster, each running its own (tiny) shadow attack inside its task
    # (6 runs cannot judge the 0.65 shadow gate: it is reported here; the shadow mechanics are what is tested)
    tm = write_threat_model(gates__tvd_2way=0.4, gates__attribute_inference=0.6, gates__shadow_auc="report",
                            compute__scheduler=None,
                            compute__workers=2, attacks__shadow={"enabled": True, "targets": 4, "shadow_runs": 6,
                                                                 "train_size": 300})
    home = tmp_path / "home"
    result = CliRunner().invoke(app, ["sweep", str(tm), "--epsilons", "10,0.5", "--out", str(tmp_path / "out"),
                                      "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "2 budgets on 2 worker(s)" in result.output
    folders = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    assert len(folders) == 1
    folder = folders[0]
    folder = folder / "review"  # every figure of a sweep is internal
    assert sorted(p.name for p in folder.iterdir()) == ["sweep.html", "sweep.json", "sweep.png"]
    document = json.loads((folder / "sweep.json").read_text())
    assert document["notice"].startswith("INTERNAL REVIEW PACKAGE")
    assert [p["epsilon"] for p in document["points"]] == [0.5, 10.0]
    low, high = document["points"]
    # more budget, better marginals (3,000 real rows: the gap between 0.5 and 10 is far outside the noise)
    assert high["utility"]["tvd_2way"]["value"] < low["utility"]["tvd_2way"]["value"]
    assert high["epsilon_spent"] <= 10.0 + 1e-9 and low["epsilon_spent"] <= 0.5 + 1e-9
    assert {a["name"] for a in high["attacks"]} >= {"linkability", "membership_density_auc", "exact_copies"}
    assert (folder / "sweep.png").read_bytes().startswith(b"\x89PNG")
    html = (folder / "sweep.html").read_text()
    assert "data:image/png;base64," in html and "privsynth sweep" in html and "0.5" in html
    spends = BudgetLedger(home / "ledger.sqlite").spends()
    assert sorted(round(s.epsilon, 6) for s in spends) == [0.5, 10.0]  # both points were paid for
    assert {s.outcome for s in spends} == {"swept"}
    assert not list((tmp_path / "out").rglob("synthetic*"))
    assert {"shadow_auc", "empirical_epsilon"} <= {a["name"] for a in low["attacks"]}

    # the same point computed alone in this process, from the sweep's private record of its nonces, gives the
    # same numbers: the curve does not depend on workers
    private = document["private"]
    split = NoiseSource.secret(TEST_NOISE_KEY, bytes.fromhex(private["split_nonce"])).generator("split")
    loaded = load_threat_model(tm)
    inputs = read_inputs(loaded, split)
    alone = _evaluate_point(_PointSpec(tm, (), 0.5, "alone", tmp_path / "alone.sqlite", inputs,
                                       plan_attacks(loaded, inputs), TEST_NOISE_KEY,
                                       bytes.fromhex(private["point_nonces"]["0.5"]), private["rows_fingerprint"],
                                       ("compute.scheduler=synchronous",)))
    assert alone["attacks"] == low["attacks"] and alone["utility"] == low["utility"]


def test_sweep_over_the_total_budget_is_refused_before_any_fit(write_threat_model, tmp_path):
    tm = write_threat_model(privacy__epsilon=1.0, privacy__total_epsilon=5.0)
    with pytest.raises(BudgetExceeded, match="sweep books epsilon 11"):
        sweep(tm, [1.0, 10.0], out=tmp_path / "out", home=tmp_path / "home")
    assert BudgetLedger(tmp_path / "home" / "ledger.sqlite").spends() == []


@pytest.mark.parametrize("text", ["", "1,abc", "0,1", "-1", "inf"])
def test_bad_epsilon_lists_are_one_clear_error(text):
    with pytest.raises(PrivsynthError, match="--epsilons"):
        parse_epsilons(text)


def _attack(name: str, estimate: float, high: float, threshold: float) -> dict:
    return {"name": name, "estimate": estimate, "ci": [0.0, high], "threshold": threshold, "passed": high <= threshold}


def test_the_sweep_table_says_why_a_point_was_blocked_and_ranks_attacks_as_the_gate_does():
    from privsynth.cli import _why
    from privsynth.report.plots import sweep_chart

    # the point estimate 0.107 is far below 0.25, but the gate judged the interval's upper end 0.257
    blocked = {"epsilon": 1.0, "decision": "blocked", "utility": {"tvd_2way": {"value": 0.04}},
               "failed_checks": [{"check": "attribute_inference:income", "reason": "risk 0.107 ..."}],
               "attacks": [_attack("attribute_inference:income", 0.107, 0.257, 0.25),
                           _attack("membership_density_auc", 0.512, 0.530, 0.6)]}
    released = {"epsilon": 3.0, "decision": "released", "utility": {"tvd_2way": {"value": 0.04}}, "failed_checks": [],
                "attacks": [_attack("attribute_inference:income", 0.091, 0.241, 0.25),
                            _attack("membership_density_auc", 0.505, 0.523, 0.6)]}
    assert _why(blocked) == "attribute_inference:income"
    # 0.241/0.25 is nearer its threshold than 0.523/0.6, although 0.505/0.6 is the larger estimate ratio
    assert _why(released) == "attribute_inference:income 0.241 / 0.25"
    assert sweep_chart([blocked, released]).startswith(b"\x89PNG")
