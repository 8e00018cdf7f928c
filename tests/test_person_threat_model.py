"""The person-level parts of a threat model (issue 19): what is refused, with what message, and what the public
manifest then says about the unit of the guarantee."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from privsynth.data.bundled import bundled_table
from privsynth.data.inputs import read_inputs
from privsynth.data.io import read_raw
from privsynth.errors import DataError, ThreatModelError
from privsynth.pipeline import preflight
from privsynth.privacy.noise import NoiseSource
from privsynth.release.manifest import build_manifest, parse_manifest
from privsynth.results import Guarantee
from privsynth.threat_model import load_threat_model

DIABETES_YAML = Path(__file__).resolve().parents[1] / "threat_models" / "diabetes.yaml"


def _problems(*overrides: str) -> str:
    with pytest.raises(ThreatModelError) as caught:
        load_threat_model(DIABETES_YAML, list(overrides))
    return str(caught.value)


def test_the_shipped_diabetes_threat_model_validates_as_person_level():
    model = load_threat_model(DIABETES_YAML).model
    assert (model.privacy_unit, model.rows_per_person, model.data.person_column) == ("person", 3, "patient_nbr")
    assert model.privacy.epsilon == 1.0 and model.data.target == "readmitted"
    assert "patient_nbr" not in model.attacker.known_columns + model.attacker.secret_columns


@pytest.mark.parametrize("overrides, expected", [
    (["data.person_column=no_such_column"], "data.person_column 'no_such_column' is not declared under data.columns"),
    (["data.person_column=race"], "data.person_column 'race' would be released as a column; add it to "
                                  "data.drop_columns"),
    (["data.person_column=null"], "privacy.unit: person needs data.person_column"),
    (["privacy.max_rows_per_person=null"], "privacy.max_rows_per_person is missing"),
    (["privacy.unit=row"], "privacy.max_rows_per_person applies to privacy.unit: person only"),
    (["privacy.max_rows_per_person=0"], "privacy.max_rows_per_person"),
])
def test_bad_person_settings_are_refused_with_the_field_and_the_fix(overrides, expected):
    assert expected in _problems(*overrides)


def test_unit_defaults_to_person_with_a_person_column_and_to_row_without():
    person = load_threat_model(DIABETES_YAML, ["privacy.unit=null"]).model
    assert person.privacy_unit == "person" and person.rows_per_person == 3
    row = load_threat_model(DIABETES_YAML, ["privacy.unit=row", "privacy.max_rows_per_person=null"]).model
    assert row.privacy_unit == "row" and row.rows_per_person == 1 and row.data.person_column == "patient_nbr"


def test_dp_sgd_with_several_rows_per_person_passes_the_preflight():
    """DP-SGD samples and clips persons (privacy/dpsgd.py), so a person-level threat model may choose it."""
    for kind in ("dp-tvae", "dp-ctgan"):
        preflight(load_threat_model(DIABETES_YAML, [f"generator.kind={kind}"]).model)


@pytest.fixture(scope="module")
def small_raw() -> pd.DataFrame:
    return read_raw(bundled_table("diabetes")).iloc[:300].reset_index(drop=True)


def _read(raw: pd.DataFrame, folder: Path):
    path = folder / "table.csv"
    raw.to_csv(path, index=False)
    loaded = load_threat_model(DIABETES_YAML, [f"data.source={path}"])
    noise = NoiseSource.simulation(0)
    return read_inputs(loaded, noise.generator("split"), noise.keyed_uniform)


def test_a_table_without_the_person_column_is_refused(small_raw, tmp_path):
    with pytest.raises(DataError, match=r"data.person_column 'patient_nbr' is not a column of the table"):
        _read(small_raw.drop(columns=["patient_nbr"]), tmp_path)


def test_rows_without_a_person_id_are_refused(small_raw, tmp_path):
    raw = small_raw.copy()
    raw.loc[[3, 7], "patient_nbr"] = ""
    with pytest.raises(DataError, match=r"column 'patient_nbr' \(data.person_column\) has 2 row\(s\) without a "
                                        "person id; fill them"):
        _read(raw, tmp_path)


def test_the_manifest_states_the_person_level_unit_and_no_private_count():
    model = load_threat_model(DIABETES_YAML).model
    guarantee = Guarantee(True, "aim", 1.0, 1e-9, "zCDP")
    manifest = build_manifest(run="r", started_utc="2026-01-01T00:00:00+00:00", dataset="diabetes",
                              threat_model=model, guarantee=guarantee, charges=[], rows=10, files={})
    privacy = manifest.privacy
    assert privacy.unit == "person" and privacy.max_rows_per_person == 3
    assert "person-level (epsilon, delta)-DP, at most 3 rows per person" in privacy.unit_statement
    assert "rows, not people" in privacy.unit_statement
    assert parse_manifest(manifest.to_json(), "manifest.json") == manifest
    text = manifest.to_json()
    assert "rows_dropped" not in text and "persons_over_bound" not in text
    row = load_threat_model(DIABETES_YAML, ["privacy.unit=row", "privacy.max_rows_per_person=null"]).model
    row_manifest = build_manifest(run="r", started_utc="2026-01-01T00:00:00+00:00", dataset="diabetes",
                                  threat_model=row, guarantee=guarantee, charges=[], rows=10, files={})
    assert row_manifest.privacy.unit == "row" and row_manifest.privacy.max_rows_per_person is None
    assert "row-level" in row_manifest.privacy.unit_statement
