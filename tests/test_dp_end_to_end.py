"""The public release is DP end to end: tested on whole releases, as an outside attacker would read them.

* neighbouring bundles: the pipeline on D and on D plus one row, with the same key, nonce and start time,
  gives public releases that are byte for byte identical outside the declared DP outputs;
* the public release names no source row and holds no hash of the source (a hash-guessing attack, which
  does find the source in the internal review package, finds nothing in the release);
* fresh noise: every run draws its own nonce, and two fits of one table at epsilon 1 and 3 from the same seed
  have independent noise (the differencing attack on shared noise recovered the true counts exactly).
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
import yaml

from privsynth.pipeline import run
from tests.conftest import TEST_NONCE, small_threat_model_doc

STARTED = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
#: loose gates: these tests need releases of small tables, not verdicts (the gate has its own tests)
LOOSE = {"gates__attribute_inference": "report", "gates__tvd_1way": 1.0, "gates__tvd_2way": 1.0,
         "gates__tstr_auc_gap": 1.0, "gates__singling_out_multivariate": 0.4, "gates__singling_out_univariate": 0.4,
         "gates__linkability": 0.6, "gates__membership_distance_auc": 0.75, "gates__membership_density_auc": 0.75,
         "gates__dcr_closer_to_train": 0.75}
#: the manifest's sections that hold outputs of charged mechanisms (and the hashes of the DP table)
DP_SECTIONS = ("dp_outputs", "files")


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode()


@pytest.fixture(scope="module")
def neighbours(tmp_path_factory, adult_raw):
    """D (600 real Adult rows) and D' = D plus one more real row, each released with the same key, nonce and
    start time; the holdout is a separate file, so the added row is a training row."""
    base = tmp_path_factory.mktemp("neighbours")
    picked = adult_raw.sample(n=1201, random_state=np.random.RandomState(11)).reset_index(drop=True)
    d, extra, holdout = picked.iloc[:600], picked.iloc[[600]], picked.iloc[601:]
    paths = {"D": base / "d.csv", "D+1": base / "d_plus_one.csv", "holdout": base / "holdout.csv"}
    paths["D"].write_bytes(_csv_bytes(d))
    paths["D+1"].write_bytes(_csv_bytes(pd.concat([d, extra], ignore_index=True)))
    paths["holdout"].write_bytes(_csv_bytes(holdout))
    runs = {}
    for name in ("D", "D+1"):
        doc = small_threat_model_doc(paths[name], data__holdout=str(paths["holdout"]), **LOOSE)
        doc["attacks"]["sample_size"] = 200
        tm = base / f"{name}.yaml"
        tm.write_text(yaml.safe_dump(doc, sort_keys=False))
        runs[name] = run(tm, out=base / f"out-{name}", nonce=TEST_NONCE, started=STARTED, home=base / f"home-{name}")
        assert runs[name].decision.released, runs[name].report["failed_checks"]
    return runs, paths, d


def _without(manifest: dict, sections: tuple[str, ...]) -> bytes:
    return json.dumps({k: v for k, v in manifest.items() if k not in sections}, sort_keys=True).encode()


def test_neighbouring_releases_differ_only_in_declared_dp_outputs(neighbours):
    runs, _, _ = neighbours
    a, b = runs["D"].release_dir, runs["D+1"].release_dir
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir()) == \
        ["manifest.json", "signature.json", "synthetic.parquet"]
    # the signature is a function of the manifest's bytes and the steward's key alone (post-processing)
    manifest_a = json.loads((a / "manifest.json").read_text())
    manifest_b = json.loads((b / "manifest.json").read_text())
    # every byte outside the DP outputs is the same: nothing else in the release depends on the rows
    assert _without(manifest_a, DP_SECTIONS) == _without(manifest_b, DP_SECTIONS)
    # and the DP outputs differ only as the mechanism allows: the same noise draws, one more row
    dp_a, dp_b = manifest_a["dp_outputs"], manifest_b["dp_outputs"]
    assert [c["rho"] for c in dp_a["charges"]] == [c["rho"] for c in dp_b["charges"]]
    if dp_a["details"]["tree"] == dp_b["details"]["tree"]:
        # every noisy marginal sum moved by exactly the one row, so the noisy row estimate moves by at most 1
        assert abs(dp_a["rows"] - dp_b["rows"]) <= 1
    table_a, table_b = pd.read_parquet(a / "synthetic.parquet"), pd.read_parquet(b / "synthetic.parquet")
    assert list(table_a.columns) == list(table_b.columns)


def _walk(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", k
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def test_the_release_names_no_source_row_and_no_private_figure(neighbours):
    runs, paths, _ = neighbours
    release = runs["D"].release_dir
    manifest = json.loads((release / "manifest.json").read_text())
    document = manifest["threat_model"]["document"]
    keys = {k for _, k in _walk({**manifest, "threat_model": {}})}
    private_keys = {"attacks", "utility", "timings", "comparison", "ledger", "nonce", "noise_key_sha256",
                    "source_row", "isolation", "rows_fingerprint", "holdout_sha256", "command", "overrides"}
    assert not keys & private_keys
    assert document["data"]["source"] == document["data"]["holdout"] == "(private)"
    assert document["attacks"]["shadow"]["target_rows"] == []
    everything = b"".join(p.read_bytes() for p in release.iterdir())
    for path in paths.values():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest.encode() not in everything and bytes.fromhex(digest) not in everything
    assert runs["D"].record["nonce"].encode() not in everything
    # the review package keeps all of it, and says on its first line that it is internal
    review = runs["D"].review_dir
    for name in ("README.txt", "report.json", "private_record.json", "report.html"):
        first = (review / name).read_text().splitlines()[0] + (review / name).read_text().splitlines()[1]
        assert "INTERNAL REVIEW PACKAGE" in first, name


def _guesses(d: pd.DataFrame):
    """The attacker knows every row of D but the last, and the last row except its age, sex and race."""
    known, target = d.iloc[:-1], d.iloc[-1]
    for age in range(17, 91):
        for sex in ("Female", "Male"):
            for race in ("White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other"):
                guess = target.copy()
                guess[["age", "sex", "race"]] = [str(age), sex, race]
                yield hashlib.sha256(_csv_bytes(pd.concat([known, guess.to_frame().T], ignore_index=True)))


def test_hash_guessing_finds_the_source_in_the_review_but_not_in_the_release(neighbours):
    runs, _, d = neighbours
    release = b"".join(p.read_bytes() for p in runs["D"].release_dir.iterdir())
    review = b"".join(p.read_bytes() for p in runs["D"].review_dir.iterdir())
    found_release, found_review = 0, 0
    for digest in _guesses(d):
        hexed = digest.hexdigest().encode()
        found_release += hexed in release or digest.digest() in release
        found_review += hexed in review
    assert found_review == 1  # the attack works: the review package holds the source's hash
    assert found_release == 0


def test_every_run_draws_a_fresh_nonce_and_keeps_it_private(pipeline_runs, neighbours):
    """Without a nonce passed in (only tests and --replay pass one), each run draws its own from the OS and
    keeps it in its private record (and the ledger), never in the release."""
    from privsynth.privacy.noise import fresh_nonce

    assert len({fresh_nonce() for _ in range(100)}) == 100
    released, blocked = pipeline_runs
    assert released.record["nonce"] != blocked.record["nonce"]  # same threat model, same seed: other noise
    assert neighbours[0]["D"].record["nonce"] == TEST_NONCE.hex()


def _standardised_one_way_noise(train: pd.DataFrame, domain, epsilon: float, nonce: bytes) -> np.ndarray:
    """MST's noisy one-way marginals minus the true counts, over their noise scale, for a fit whose noise comes
    from the test key and ``nonce`` exactly as a run's does (privacy/noise.py)."""
    from privsynth.generators.marginal.mst import MST
    from privsynth.privacy.noise import NoiseSource
    from privsynth.privacy.odometer import Odometer
    from privsynth.privacy.private_data import PrivateData
    from tests.conftest import TEST_NOISE_KEY

    private = PrivateData(train, domain, Odometer.for_epsilon(epsilon, 1e-9), NoiseSource.secret(TEST_NOISE_KEY, nonce))
    mst = MST().fit(private)
    codes, coders = domain.encode(train)
    noise = []
    for m in mst.measurements_[:len(domain.names)]:
        j = domain.names.index(m.columns[0])
        noise.append((m.counts - np.bincount(codes[:, j], minlength=coders[m.columns[0]].size)) / m.sigma)
    return np.concatenate(noise)


def test_two_fits_of_one_table_do_not_share_their_noise(adult, adult_domain):
    """The differencing attack needs two answers with the same noise: a release at epsilon 1 and one at 3 from
    the same seed had standardised noise with correlation 1.0, so their difference gave the true counts back.
    Each run's noise now comes from its own nonce: the correlation is that of independent draws (about
    N(0, 1/sqrt(cells)); 4 standard deviations allowed), while reusing a nonce (the positive control) gives 1."""
    train = adult.iloc[:3000]
    first = _standardised_one_way_noise(train, adult_domain, 1.0, TEST_NONCE)
    reused = _standardised_one_way_noise(train, adult_domain, 3.0, TEST_NONCE)
    fresh = _standardised_one_way_noise(train, adult_domain, 3.0, bytes(reversed(TEST_NONCE)))
    assert np.corrcoef(first, reused)[0, 1] > 0.999
    assert abs(np.corrcoef(first, fresh)[0, 1]) < 4 / np.sqrt(len(first))
    # standardised noise is standard normal: the charged sigma is the sigma added
    assert 0.85 < np.std(fresh) < 1.15


