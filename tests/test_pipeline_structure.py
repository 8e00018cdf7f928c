"""The run with a structured threat model: bought cut points and the rules' rejection rate reach the public
receipt, the source's and the raw output's rule violations reach the internal review only, and a generator
that cannot honour the structure is refused before any data is read."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from privsynth.errors import ThreatModelError
from privsynth.pipeline import preflight, run
from privsynth.threat_model import load_threat_model
from tests.conftest import LOOSE_GATES

RULES = ["education == 'Bachelors' -> education_num == 13", "education == 'HS-grad' -> education_num == 9",
         "capital_loss <= 99999"]


def _columns(write_threat_model) -> dict:
    columns = yaml.safe_load(load_threat_model(write_threat_model()).model.canonical_json())["data"]["columns"]
    columns["fnlwgt"].update({"bins": "quantile", "quantile_bins": 16})
    columns["capital_gain"]["scale"] = "log"
    return columns


def test_structured_run_publishes_receipts_and_keeps_violation_counts_internal(tmp_path, write_threat_model):
    path = write_threat_model(data__columns=_columns(write_threat_model), data__rules=RULES, **LOOSE_GATES)
    result = run(path, out=tmp_path / "out")
    details = result.guarantee.details
    assert len(details["dp_bin_edges"]["fnlwgt"]) == 15
    assert [r["rule"] for r in details["rules"]["rules"]] == RULES
    assert result.report["privacy"]["details"]["rules"] == details["rules"]
    # violation counts describe private rows: the review package has them, the public manifest does not
    assert result.report["rule_violations"]["rule_violations_source"] == {rule: 0 for rule in RULES}
    assert set(result.report["rule_violations"]["rule_violations_raw_output"]) == set(RULES)
    assert result.internal["rule_violations_source"] == {rule: 0 for rule in RULES}
    assert [c["label"] for c in result.report["privacy"]["charges"]][0] == "mst.bins[fnlwgt]"
    if result.decision.released:
        public = result.manifest.model_dump(mode="json")
        assert public["dp_outputs"]["details"]["rules"] == details["rules"]
        assert "rule_violations" not in (result.release_dir / "manifest.json").read_text()
        assert public["dp_outputs"]["charges"][0]["label"] == "mst.bins[fnlwgt]"
        table = pd.read_parquet(result.release_dir / "synthetic.parquet")
        bachelors = table[table["education"] == "Bachelors"]
        assert (bachelors["education_num"] == 13).all()


def test_a_generator_that_cannot_honour_the_structure_is_refused(write_threat_model):
    path = write_threat_model(generator__kind="dp-tvae", generator__params={}, data__rules=RULES)
    with pytest.raises(ThreatModelError, match="does not enforce data.rules"):
        preflight(load_threat_model(path).model)
