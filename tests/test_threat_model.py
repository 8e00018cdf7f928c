"""Threat model validation: every problem reported with its field path, and the JSON Schema export."""
from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from privsynth.errors import ThreatModelError
from privsynth.threat_model import json_schema, load_threat_model, parse_override


def test_shipped_adult_threat_model_is_valid(adult_model):
    assert adult_model.name == "adult"
    assert adult_model.data.source == "bundled:adult"
    assert len(adult_model.kept_columns) == 15
    assert adult_model.privacy.allow_non_dp is False
    assert adult_model.unconfirmed_columns == []


def test_every_problem_is_reported_with_its_path(tmp_path, write_threat_model):
    path = write_threat_model(privacy__epsilon=-1, privacy__colour="red", attacks__n_attacks=1)
    with pytest.raises(ThreatModelError) as caught:
        load_threat_model(path)
    text = "; ".join(caught.value.problems)
    assert "privacy.epsilon" in text and "privacy.colour" in text and "attacks.n_attacks" in text
    assert len(caught.value.problems) == 3
    assert str(path) in str(caught.value)


def test_overrides_apply_and_are_recorded(write_threat_model):
    loaded = load_threat_model(write_threat_model(), ["privacy.epsilon=3", "generator.kind=gaussian-copula"])
    assert loaded.model.privacy.epsilon == 3.0
    assert loaded.model.generator.kind == "gaussian-copula"
    assert loaded.overrides == ("privacy.epsilon=3", "generator.kind=gaussian-copula")


def test_override_without_equals_sign_is_refused():
    with pytest.raises(ThreatModelError, match="FIELD=VALUE"):
        parse_override("privacy.epsilon")


def test_hash_changes_with_content(write_threat_model):
    a = load_threat_model(write_threat_model()).model
    b = load_threat_model(write_threat_model(), ["privacy.epsilon=2"]).model
    assert a.sha256() != b.sha256() and len(a.sha256()) == 64


def test_json_schema_describes_every_section():
    schema = json_schema()
    assert set(schema["required"]) >= {"name", "data", "attacker", "privacy"}
    json.dumps(schema)  # serialisable for editors


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.integers(), st.text(max_size=5)), max_size=4))
def test_random_documents_never_crash_the_loader(tmp_path_factory, document):
    """Whatever YAML mapping arrives, the loader answers with a ThreatModelError, never a traceback."""
    path = tmp_path_factory.mktemp("h") / "tm.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ThreatModelError):
        load_threat_model(path)


def test_structure_problems_are_reported_with_their_paths(write_threat_model):
    """Hierarchies, rules and quantile budget shares are checked against the declared columns, all at once."""
    columns = yaml.safe_load(load_threat_model(write_threat_model()).model.canonical_json())["data"]["columns"]
    columns["occupation"]["parent"] = {"column": "sex", "mapping": {v: "Wizard" for v in columns["occupation"]["values"]}}
    columns["fnlwgt"].update({"bins": "quantile", "quantile_share": 0.3})
    columns["capital_gain"].update({"bins": "quantile", "quantile_share": 0.3})
    path = write_threat_model(data__columns=columns, data__rules=["age < 15 -> marital is missing", "age <"])
    with pytest.raises(ThreatModelError) as caught:
        load_threat_model(path)
    text = "; ".join(caught.value.problems)
    assert "rule 1 'age <'" in text  # syntax, reported before anything else about the data section
    path = write_threat_model(data__columns=columns, data__rules=["age < 15 -> marital is missing"])
    with pytest.raises(ThreatModelError) as caught:
        load_threat_model(path)
    text = "; ".join(caught.value.problems)
    assert "data.columns.occupation.parent: parent values ['Wizard'] are not declared values of 'sex'" in text
    assert "data.rules[0]" in text and "unknown column 'marital'" in text
    assert "quantile_share" in text and "0.6" in text


def test_a_structured_threat_model_loads(write_threat_model):
    columns = yaml.safe_load(load_threat_model(write_threat_model()).model.canonical_json())["data"]["columns"]
    columns["fnlwgt"].update({"bins": "quantile", "quantile_bins": 24})
    columns["capital_gain"]["scale"] = "log"
    columns["capital_loss"]["edges"] = [1, 1000, 2000]
    columns["native_country"]["parent"] = {"column": "initial", "prefix": 1}
    model = load_threat_model(write_threat_model(data__columns=columns, data__rules=[
        "capital_loss <= 99999", "age < 17 -> marital_status == 'Never-married'"])).model
    assert model.data.columns["native_country"].parent_map()["United-States"] == "U"
    assert model.data.columns["fnlwgt"].bins == "quantile" and len(model.data.rules) == 2
