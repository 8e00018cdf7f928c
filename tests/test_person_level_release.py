"""Person-level releases end to end (issue 19): the pipeline on D and on D minus ALL rows of one patient, with the
same key, nonce and start time, gives public manifests identical outside the declared DP outputs, whose
charges are the same; the manifest states the person-level unit and no private count; the review package
holds what the contribution bound dropped and the person-level membership attack by row count; the attack step
attacks persons in the shadow attack, the canary audit and anonymeter's attacks."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from privsynth.data.bundled import bundled_table
from privsynth.data.io import read_raw
from privsynth.pipeline import _Silent, plan_attacks, prepare, run, run_attacks
from privsynth.privacy.home import StewardHome
from privsynth.privacy.noise import NoiseSource
from privsynth.release.gate import declared_checks
from privsynth.report.json_report import _attack
from privsynth.threat_model import load_threat_model
from tests.conftest import TEST_NONCE

DIABETES_YAML = Path(__file__).resolve().parents[1] / "threat_models" / "diabetes.yaml"
STARTED = datetime(2026, 12, 2, 12, 0, 0, tzinfo=timezone.utc)
KEPT = ["race", "gender", "age", "admission_type_id", "admission_source_id", "time_in_hospital", "num_medications",
        "insulin", "a1c_result", "readmitted"]
#: these tests need releases of a small table, not verdicts (the gate has its own tests)
REPORT_ONLY = ["singling_out_univariate", "singling_out_multivariate", "linkability", "attribute_inference",
               "tvd_1way", "tvd_2way", "tstr_auc_gap", "membership_distance_auc", "membership_density_auc",
               "dcr_closer_to_train", "exact_copies"]


#: a marginal mechanism and DP-SGD (which samples and clips persons)
GENERATORS = {"mst": [], "dp-tvae": ["generator.params.epochs=2", "generator.params.hidden=32"]}


@pytest.fixture(scope="module", params=sorted(GENERATORS))
def neighbours(tmp_path_factory, request):
    kind = request.param
    base = tmp_path_factory.mktemp(f"person-neighbours-{kind}")
    raw = read_raw(bundled_table("diabetes")).iloc[:2400].reset_index(drop=True)
    ids = raw["patient_nbr"].str.strip()
    heavy = ids.value_counts().index[0]
    holdout_ids = set(ids.drop_duplicates().iloc[::3]) - {heavy}
    train, holdout = raw[~ids.isin(holdout_ids)], raw[ids.isin(holdout_ids)]
    paths = {"D": base / "d.csv", "D-p": base / "d_minus_p.csv", "holdout": base / "holdout.csv"}
    train.to_csv(paths["D"], index=False)
    train[train["patient_nbr"].str.strip() != heavy].to_csv(paths["D-p"], index=False)
    holdout.to_csv(paths["holdout"], index=False)
    declared = load_threat_model(DIABETES_YAML).model.data.columns
    dropped = [c for c in declared if c not in KEPT]
    runs = {}
    for name in ("D", "D-p"):
        overrides = [f"data.source={paths[name]}", f"data.holdout={paths['holdout']}", f"generator.kind={kind}",
                     *GENERATORS[kind],
                     f"data.drop_columns={json.dumps(dropped)}", "attacker.known_columns=[race, gender, age]",
                     "attacker.secret_columns=[readmitted]", "attacks.sample_size=150",
                     "attacks.shadow.enabled=false", "attacks.audit.enabled=false", "attacks.n_attacks=100",
                     *[f"gates.{g}=report" for g in REPORT_ONLY]]
        runs[name] = run(DIABETES_YAML, out=base / f"out-{name}", overrides=tuple(overrides), nonce=TEST_NONCE,
                         started=STARTED, home=base / f"home-{name}")
        assert runs[name].decision.released, runs[name].report["failed_checks"]
    return runs, heavy


def test_neighbouring_person_level_releases_differ_only_in_dp_outputs(neighbours):
    runs, _ = neighbours
    manifests = [json.loads((runs[n].release_dir / "manifest.json").read_text()) for n in ("D", "D-p")]
    outside = [{k: v for k, v in m.items() if k not in ("dp_outputs", "files", "run")} for m in manifests]
    assert outside[0] == outside[1]
    charges = [[(c["label"], c["rho"]) for c in m["dp_outputs"]["charges"]] for m in manifests]
    assert charges[0] == charges[1]
    details = [m["dp_outputs"]["details"] for m in manifests]
    if manifests[0]["generator"]["kind"] == "dp-tvae":  # persons are sampled and clipped, not rows
        assert "per-person clipping" in manifests[0]["privacy"]["mechanism"]
        assert details[0]["sampled_unit"] == details[1]["sampled_unit"] == "person"
    elif details[0]["tree"] == details[1]["tree"]:  # the same queries, the same noise: the rows moved by <= k
        assert abs(manifests[0]["dp_outputs"]["rows"] - manifests[1]["dp_outputs"]["rows"]) <= 3


def test_the_manifest_says_person_level_and_keeps_private_counts_out(neighbours):
    runs, heavy = neighbours
    manifest = json.loads((runs["D"].release_dir / "manifest.json").read_text())
    privacy = manifest["privacy"]
    assert privacy["unit"] == "person" and privacy["max_rows_per_person"] == 3
    assert privacy["unit_statement"].startswith("person-level (epsilon, delta)-DP, at most 3 rows per person")
    release_text = "".join(p.read_bytes().decode("latin-1") for p in runs["D"].release_dir.iterdir())
    assert "rows_dropped" not in release_text and heavy not in release_text
    assert "patient_nbr" not in pd.read_parquet(runs["D"].release_dir / "synthetic.parquet").columns


def test_the_review_holds_the_bound_and_the_person_attack_by_row_count(neighbours):
    runs, _ = neighbours
    report = runs["D"].report
    persons = report["rule_violations"]["persons"]
    assert persons["max_rows_per_person"] == 3 and persons["rows_dropped_by_bound"] > 0
    attack = next(a for a in report["attacks"] if a["name"] == "membership_person_auc")
    assert 0 < attack["n"] and set(attack["details"]["by_source_rows_per_person"]) == {"1", "2-3", "4-9", "10+"}
    assert report["privacy"]["guarantee"].startswith("person-level") and report["privacy"]["unit"] == "person"



def test_a_person_level_run_attacks_persons_in_the_shadow_attack_audit_and_anonymeter(tmp_path):
    """The pipeline wires the person level through its attack step: shadow targets are persons (at most k rows,
    all in or out), canaries are persons of k rows, anonymeter's targets one row per person; the report's shadow
    summary says so. The step alone (read, plan, attack; no fit, utility or write, which the tests above cover):
    the shadow attack and the audit fit their own tables, so a holdout sample stands in for the candidate."""
    raw = read_raw(bundled_table("diabetes")).iloc[:2000]
    raw.to_csv(tmp_path / "d.csv", index=False)
    dropped = [c for c in load_threat_model(DIABETES_YAML).model.data.columns if c not in KEPT]
    overrides = [f"data.source={tmp_path / 'd.csv'}", "data.holdout_fraction=0.5", "generator.kind=mst",
                 f"data.drop_columns={json.dumps(dropped)}", "attacker.known_columns=[race, gender, age]",
                 "attacker.secret_columns=[readmitted]", "attacks.sample_size=100", "attacks.n_attacks=50",
                 "attacks.shadow.shadow_runs=8", "attacks.shadow.train_size=200", "attacks.shadow.targets=6",
                 "attacks.audit.enabled=true", "attacks.audit.runs=1", "attacks.audit.base_rows=200",
                 "attacks.audit.canaries=30", "compute.scheduler=synchronous", "gates.shadow_auc=report",
                 *[f"gates.{g}=report" for g in REPORT_ONLY]]
    loaded = load_threat_model(DIABETES_YAML, overrides)
    inputs, _ = prepare(loaded, StewardHome.locate(tmp_path / "home"), NoiseSource.simulation(3))
    plan = plan_attacks(loaded, inputs)
    names = list(dict.fromkeys(d.check.name for d in declared_checks(loaded.model)))
    attacks = run_attacks(plan, inputs, loaded.model, inputs.holdout.iloc[:300], names, _Silent())
    found = {a.name: a for a in attacks}
    shadow = found["shadow_auc"]
    assert shadow.details["unit"] == "person" and shadow.details["max_rows_per_person"] == 3
    assert all(1 <= t["rows"] <= 3 and len(t["source_rows"]) == t["rows"] for t in shadow.details["targets"])
    assert shadow.n == 4 * len(shadow.details["targets"])  # held-out runs x target persons
    assert shadow.positive_control is not None and shadow.positive_control.estimate > 0.9
    assert _attack(shadow)["shadow"]["unit"] == "person"  # what the HTML report's shadow table reads
    assert found["empirical_epsilon"].details["unit"] == "person"
    canary = found["canary_epsilon"].details
    assert canary["unit"] == "person" and canary["rows_per_canary"] == 3 and canary["group"] == 1
    for name in ("linkability", "singling_out_univariate", "attribute_inference:readmitted"):
        assert found[name].details["unit"] == "person" and found[name].details["persons_per_side"] <= 100
