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
    overrides = ["privacy.epsilon=3", "generator.kind=gaussian-copula", "generator.params={}"]
    loaded = load_threat_model(write_threat_model(), overrides)
    assert loaded.model.privacy.epsilon == 3.0
    assert loaded.model.generator.kind == "gaussian-copula"
    assert loaded.model.generator.params.default_distribution == "beta"
    assert loaded.overrides == tuple(overrides)


def test_generators_and_their_parameters_are_validated_with_their_path(write_threat_model):
    """`validate` once approved generator: {kind: magic, params: {iterz: 3}}: kinds and parameters are typed."""
    with pytest.raises(ThreatModelError) as magic:
        load_threat_model(write_threat_model(generator__kind="magic", generator__params={"iterz": 3}))
    assert "generator.kind: Input tag 'magic'" in str(magic.value) and "'aim'" in str(magic.value)
    with pytest.raises(ThreatModelError) as typo:
        load_threat_model(write_threat_model(generator__kind="aim", generator__params={"iterz": 3, "degree": "x"}))
    assert sorted(p.split(":")[0] for p in typo.value.problems) == ["generator.params.degree", "generator.params.iterz"]
    model = load_threat_model(write_threat_model(generator__kind="aim", generator__params={"degree": 2})).model
    assert model.generator.params.degree == 2 and model.generator.params.max_model_size is None


def test_gates_are_a_mapping_checked_against_the_catalogue(write_threat_model):
    with pytest.raises(ThreatModelError, match=r"gates\.linkabilty: Extra inputs"):
        load_threat_model(write_threat_model(gates__linkabilty=0.1))
    with pytest.raises(ThreatModelError, match=r"gates: tvd_1way = 3 is outside \[0, 1\]"):
        load_threat_model(write_threat_model(gates__tvd_1way=3))
    with pytest.raises(ThreatModelError, match=r"membership_distance_auc = 0.2 is outside \[0.5, 1\]"):
        load_threat_model(write_threat_model(gates__membership_distance_auc=0.2))
    model = load_threat_model(write_threat_model(gates__linkability="report")).model
    assert model.gates.threshold("linkability") is None and model.gates.threshold("tvd_2way") == 0.2


def _undescribed(node, path, definitions):
    """Every property of the schema, walked through $ref, anyOf and discriminated unions, without a description."""
    missing = []
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = definitions[name]
        if name in _seen:
            return []
        _seen.add(name)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key, []):
            missing += _undescribed(option, path, definitions)
    for name, prop in node.get("properties", {}).items():
        if "description" not in prop:
            missing.append(f"{path}.{name}")
        missing += _undescribed(prop, f"{path}.{name}", definitions)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            missing += _undescribed(node[key], f"{path}[]", definitions)
    return missing


_seen: set[str] = set()


def test_every_field_of_the_schema_has_a_description():
    schema = json_schema()
    _seen.clear()
    assert _undescribed(schema, "", schema.get("$defs", {})) == []


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


def test_an_integer_parent_must_be_coded_exactly_and_hold_every_mapped_value(write_threat_model):
    """A derived integer column gets its value from the mapping, so every mapped value must be one of its
    integers, and it must have a code per value (no bins), or the synthetic number would not be the mapped one."""
    columns = yaml.safe_load(load_threat_model(write_threat_model()).model.canonical_json())["data"]["columns"]
    levels = columns["education"]["values"]
    columns["education"]["parent"] = {"column": "education_num", "mapping": {v: str(i + 1) for i, v in enumerate(levels)}}
    model = load_threat_model(write_threat_model(data__columns=columns)).model
    assert model.data.columns["education"].parent.column == "education_num"

    columns["education"]["parent"]["mapping"][levels[0]] = "17"
    with pytest.raises(ThreatModelError) as caught:
        load_threat_model(write_threat_model(data__columns=columns))
    assert "parent values ['17'] are not integers in [1, 16] of 'education_num'" in "; ".join(caught.value.problems)
    columns["education"]["parent"]["mapping"][levels[0]] = "1"
    columns["education_num"]["bins"] = 4
    with pytest.raises(ThreatModelError) as caught:
        load_threat_model(write_threat_model(data__columns=columns))
    assert "a derived number must be an integer column" in "; ".join(caught.value.problems)


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
