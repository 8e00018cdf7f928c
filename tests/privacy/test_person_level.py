"""Person-level DP (issue 19): contribution bounding, the k-fold sensitivity PrivateData charges for, and the
neighbouring relation D vs D minus ALL rows of one person, on real diabetes rows (several per patient)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from privsynth.data.bundled import bundled_table
from privsynth.data.domain import PublicDomain
from privsynth.data.inputs import read_inputs
from privsynth.data.io import read_raw
from privsynth.data.persons import assign_holdout_by_person, bound_contributions
from privsynth.generators.marginal.aim import AIM
from privsynth.privacy.accounting import exponential_rho, gaussian_rho
from privsynth.privacy.noise import NoiseSource
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import NoisyMarginal, PrivateData
from privsynth.privacy.dpsgd import DPSGDSession, person_slots
from privsynth.generators.registry import make_generator
from privsynth.errors import PrivsynthError
from privsynth.threat_model import load_threat_model

ROOT = Path(__file__).resolve().parents[2]
DIABETES_YAML = ROOT / "threat_models" / "diabetes.yaml"
K = 3
COLUMNS = ["race", "gender", "age", "admission_type_id", "time_in_hospital", "num_medications", "insulin",
           "a1c_result", "readmitted"]
FAST = {"round_iters": 30, "final_iters": 80, "max_rounds": 8}


@pytest.fixture(scope="module")
def diabetes_raw() -> pd.DataFrame:
    """The first 4,000 encounters of the bundled table (patients with up to 20+ rows among them)."""
    raw = read_raw(bundled_table("diabetes"))
    return raw.iloc[:4000].reset_index(drop=True)


@pytest.fixture(scope="module")
def loaded():
    return load_threat_model(DIABETES_YAML)


@pytest.fixture(scope="module")
def heavy_patient(diabetes_raw) -> str:
    """The patient with the most rows in the sample: the worst case for the neighbouring relation."""
    return str(diabetes_raw["patient_nbr"].value_counts().index[0])


def _inputs(loaded, raw: pd.DataFrame, folder: Path, name: str, noise: NoiseSource):
    path = folder / f"{name}.csv"
    raw.to_csv(path, index=False)
    model = load_threat_model(loaded.path, [f"data.source={path}"])
    return read_inputs(model, noise.generator("split"), noise.keyed_uniform)


@pytest.fixture(scope="module")
def neighbours(loaded, diabetes_raw, heavy_patient, tmp_path_factory):
    """The inputs of D and of D minus every row of the heaviest patient, read with the SAME secret draws."""
    folder = tmp_path_factory.mktemp("persons")
    noise = NoiseSource.secret(bytes(range(32)), bytes(range(32, 64)))
    full = _inputs(loaded, diabetes_raw, folder, "D", noise)
    minus = _inputs(loaded, diabetes_raw[diabetes_raw["patient_nbr"].str.strip() != heavy_patient], folder,
                    "D_minus_p", noise)
    return full, minus


def test_the_diabetes_threat_model_is_person_level(loaded):
    model = loaded.model
    assert model.data.person_column == "patient_nbr" and model.privacy_unit == "person"
    assert model.rows_per_person == K and "patient_nbr" in model.data.drop_columns
    assert "patient_nbr" not in model.kept_columns and model.data.target == "readmitted"
    for column in ("diag_1", "diag_2", "diag_3", "payer_code", "medical_specialty"):  # lists read from the data
        assert column not in model.kept_columns


def test_each_person_keeps_at_most_k_rows_and_dropped_rows_are_counted(neighbours, diabetes_raw):
    full, _ = neighbours
    persons = full.persons
    kept = pd.Series(np.concatenate([persons.train, persons.holdout])).value_counts()
    source = diabetes_raw["patient_nbr"].str.strip().value_counts()
    assert kept.max() == K and (kept == source.clip(upper=K).loc[kept.index]).all()
    assert persons.rows_dropped == int((source - K).clip(lower=0).sum()) > 0
    assert not set(persons.train) & set(persons.holdout)  # a person's rows are all on one side


def test_removing_a_person_changes_no_other_persons_rows_or_side(neighbours, heavy_patient):
    """The bound and the split are keyed per person: D minus p gives exactly D's rows minus p's, row for row."""
    full, minus = neighbours
    assert heavy_patient in set(full.persons.train) | set(full.persons.holdout)
    for side in ("train", "holdout"):
        frame, ids = getattr(full, side), getattr(full.persons, side)
        kept = frame[ids != heavy_patient].reset_index(drop=True)
        pd.testing.assert_frame_equal(kept, getattr(minus, side))
        assert list(ids[ids != heavy_patient]) == list(getattr(minus.persons, side))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=2, max_size=30), st.integers(1, 5), st.integers(0, 2**31))
def test_bound_and_split_are_keyed_per_person(sizes, k, seed):
    ids = np.array([f"p{i}" for i, n in enumerate(sizes) for _ in range(n)], dtype=object)
    noise = NoiseSource.simulation(seed)
    kept = bound_contributions(ids, k, noise.keyed_uniform).kept
    counts = pd.Series(ids[kept]).value_counts()
    assert (counts == pd.Series(sizes, index=[f"p{i}" for i in range(len(sizes))]).clip(upper=k)
            .loc[counts.index]).all()
    drop = ids != "p0"
    kept_without = bound_contributions(ids[drop], k, noise.keyed_uniform).kept
    assert list(np.flatnonzero(drop)[kept_without]) == [i for i in kept if ids[i] != "p0"]
    try:
        train, _ = assign_holdout_by_person(ids, 0.3, noise.keyed_uniform)
        train_without, _ = assign_holdout_by_person(ids[drop], 0.3, noise.keyed_uniform)
    except Exception:  # all persons on one side: refused, nothing to compare
        return
    assert list(np.flatnonzero(drop)[train_without]) == [i for i in train if ids[i] != "p0"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=5), st.integers(1, 5))
def test_a_person_moves_a_histogram_by_at_most_k_in_l2_and_l1(rows, k):
    """The proof in private_data.py, checked: a person's r <= k rows move a marginal's counts by a vector of
    non-negative integers summing to r, so its L2 norm is at most its L1 norm, at most k; and an L1 error
    against a fixed estimate moves by at most as much."""
    rows = rows[:k]
    kept = load_threat_model(DIABETES_YAML).model.kept_columns
    domain = PublicDomain({c: kept[c] for c in ("race", "a1c_result")})
    base = pd.DataFrame({"race": ["Caucasian"] * 5, "a1c_result": ["none"] * 5})
    values = (["AfricanAmerican", "Asian", "Caucasian", "Hispanic"], [">7", ">8", "Norm"])
    person = pd.DataFrame({"race": [values[0][a] for a, _ in rows], "a1c_result": [values[1][b] for _, b in rows]})

    def counts(frame):
        private = PrivateData(domain.cast(frame), domain, Odometer.for_epsilon(1, 1e-9), NoiseSource.simulation(0),
                              rows_per_person=k)
        return private._true_counts(("race", "a1c_result"))

    with_person = counts(pd.concat([base, person], ignore_index=True))
    difference = with_person - counts(base)
    assert np.linalg.norm(difference.ravel(), 2) <= np.abs(difference).sum() == len(rows) <= k
    estimate = np.random.default_rng(k).random(difference.shape) * 3
    assert abs(np.abs(with_person - estimate).sum() - np.abs(with_person - difference - estimate).sum()) <= k + 1e-9


def test_noise_is_k_times_larger_at_the_row_level_price(neighbours):
    full, _ = neighbours
    private = PrivateData(full.train, full.domain, Odometer(1e6, 1e-9), NoiseSource.simulation(1),
                          rows_per_person=K)
    truth = private._true_counts(("gender",))
    draws = np.array([private.measure_marginal(("gender",), 2.0).counts - truth for _ in range(1500)])
    assert draws.std() == pytest.approx(K * 2.0, rel=0.05)
    charge = private.odometer.charges[0]
    assert charge.rho == pytest.approx(gaussian_rho(2.0)) == pytest.approx(K**2 / (2 * (K * 2.0) ** 2))
    assert charge.params["sigma"] == K * 2.0 and charge.params["sensitivity"] == K
    assert private.measure_marginal(("gender",), 2.0).sigma == K * 2.0


def test_the_exponential_mechanism_uses_the_person_sensitivity(neighbours):
    """Two candidates whose true L1 errors differ by a known amount: the choice frequency matches
    exp(epsilon * quality / (2 k)), not the row-level exp(epsilon * quality / 2)."""
    full, _ = neighbours
    private = PrivateData(full.train, full.domain, Odometer(1e6, 1e-9), NoiseSource.simulation(2),
                          rows_per_person=K)
    truth = private._true_counts(("gender",))
    estimates = [truth, truth + np.array([2.0] + [0.0] * (len(truth) - 1))]  # qualities 0 and 2
    epsilon = 1.5
    picks = np.array([private.select_by_error([("gender",), ("gender",)], estimates, epsilon) for _ in range(4000)])
    expected = 1 / (1 + math.exp(-epsilon * 2 / (2 * K)))
    assert picks.mean() == pytest.approx(expected, abs=0.025)
    assert abs(picks.mean() - 1 / (1 + math.exp(-epsilon * 2 / 2))) > 0.1  # the row-level rate is far off
    assert private.odometer.charges[0].rho == pytest.approx(exponential_rho(epsilon))
    assert private.odometer.charges[0].params["sensitivity"] == K


class Recording(PrivateData):
    """Writes down every answer, with the true answer on the NEIGHBOUR (D minus p) to the same question."""

    tape: list
    neighbour: PrivateData

    def recoded(self, code_maps):
        view = super().recoded(code_maps)
        view.neighbour = self.neighbour.recoded(code_maps)  # AIM merges rare codes: ask the neighbour the same
        return view

    def measure_marginal(self, columns, sigma, label="marginal"):
        answer = super().measure_marginal(columns, sigma, label)
        gap = self._true_counts(tuple(columns)) - self.neighbour._true_counts(tuple(columns))
        self.tape.append(("measure", tuple(columns), answer.counts.copy(), answer.sigma, gap))
        return answer

    def select_by_error(self, candidates, estimates, epsilon, penalties=None, weights=None, feasible=None,
                        label="select"):
        choice = super().select_by_error(candidates, estimates, epsilon, penalties, weights, feasible, label)
        gaps = [abs(np.abs(self._true_counts(tuple(c)) - np.asarray(e).reshape(self._shape(c))).sum()
                    - np.abs(self.neighbour._true_counts(tuple(c)) - np.asarray(e).reshape(self._shape(c))).sum())
                for c, e in zip(candidates, estimates)]
        self.tape.append(("select", tuple(map(tuple, candidates)), choice, max(gaps)))
        return choice


class Replaying(PrivateData):
    """Answers from a tape recorded on D; charges the same; reads no row of its own table (D minus p)."""

    tape: list

    def measure_marginal(self, columns, sigma, label="marginal"):
        kind, recorded, counts, noise_scale, _ = self.tape.pop(0)
        assert kind == "measure" and recorded == tuple(columns)
        self.odometer.charge(label, "gaussian", gaussian_rho(sigma))
        return NoisyMarginal(tuple(columns), counts, noise_scale)

    def select_by_error(self, candidates, estimates, epsilon, penalties=None, weights=None, feasible=None,
                        label="select"):
        kind, recorded, choice, _ = self.tape.pop(0)
        assert kind == "select" and recorded == tuple(map(tuple, candidates))
        self.odometer.charge(label, "exponential", exponential_rho(epsilon))
        return choice


def test_fits_on_neighbours_differ_only_through_charged_person_level_mechanisms(neighbours):
    """AIM on D (bounded to k rows per patient) and on D minus ALL rows of its heaviest patient: every
    question the fit asks has a true answer that moves by at most k between the two (L2 for a marginal, L1
    error for a selection), every answer is noised for sensitivity k (noise k sigma at the price of sigma),
    and replaying D's answers on D minus p gives the same model: the rows reach the model only through those
    charged answers."""
    full, minus = neighbours
    columns = COLUMNS
    domain = PublicDomain({c: full.domain.columns[c] for c in columns}, target="readmitted")
    d, d_minus = full.train[columns], minus.train[columns]
    assert len(d) - len(d_minus) == K  # the heavy patient is in the training set with exactly k rows
    recording = Recording(d, domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(7), rows_per_person=K)
    recording.tape = []
    recording.neighbour = PrivateData(d_minus, domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(8))
    model = AIM(**FAST).fit(recording)
    measured = [t for t in recording.tape if t[0] == "measure"]
    selected = [t for t in recording.tape if t[0] == "select"]
    assert measured and selected
    assert max(np.linalg.norm(t[4].ravel()) for t in measured) <= K
    assert max(t[3] for t in selected) <= K + 1e-9  # float sums of the estimates
    assert any(np.abs(t[4]).sum() == K for t in measured)  # the person is really there: the bound is met
    gaussian = [c for c in recording.odometer.charges if c.mechanism == "gaussian"]
    assert all(c.params["sensitivity"] == K and c.rho == pytest.approx(K**2 / (2 * c.params["sigma"] ** 2))
               for c in gaussian)
    replay = Replaying(d_minus, domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(9),
                       rows_per_person=K)
    replay.tape = list(recording.tape)
    twin = AIM(**FAST).fit(replay)
    assert replay.tape == []
    assert twin.sample(300, seed=3).equals(model.sample(300, seed=3))
    assert [c.rho for c in replay.odometer.charges] == pytest.approx([c.rho for c in recording.odometer.charges])


def test_person_slots_group_each_persons_rows_in_table_order():
    slots = person_slots(np.array(["b", "a", "b", "c", "a", "b"]), 3)
    assert slots.tolist() == [[0, 2, 5], [1, 4, -1], [3, -1, -1]]
    with pytest.raises(ValueError, match="more than the bound"):
        person_slots(np.array(["a", "a", "a"]), 2)


def test_person_level_dp_sgd_without_person_ids_refuses_before_charging(neighbours):
    full, _ = neighbours
    private = PrivateData(full.train, full.domain, Odometer.for_epsilon(1.0, 1e-9, accountant="rdp"),
                          NoiseSource.simulation(3), rows_per_person=K)
    module = torch.nn.Linear(2, 2)
    with pytest.raises(PrivsynthError, match="needs each training row's person"):
        private.dpsgd_training(module, torch.optim.SGD(module.parameters(), lr=0.1), sample_rate=0.01, epochs=1,
                               max_grad_norm=1.0, expected_batch_size=10)
    assert private.odometer.charges == ()


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("kind", ["dp-tvae", "dp-ctgan"])
def test_dp_sgd_clips_the_sum_of_one_persons_rows_in_real_training(neighbours, monkeypatch, kind):
    """Hooks into the generator's own training loop at person level (k = 3): for the first steps, each
    PERSON's gradient (the sum over their rows) is computed independently with Opacus's hooks off, clipped by
    hand, summed and compared with what Opacus accumulated; the batches hold persons with several rows, and
    clipping each row instead would give a different gradient, so the check can tell the two apart."""
    full, _ = neighbours
    max_grad_norm = 0.05
    checked: list[tuple[float, float, float]] = []
    masks: list[torch.Tensor] = []
    original_backward, original_losses = DPSGDSession.backward, DPSGDSession.unit_losses

    def record_mask(row_losses, mask):
        masks.append(mask)
        units = original_losses(row_losses, mask)
        if mask is not None and len(checked) < 2:
            record_mask.rows = row_losses.reshape(mask.shape) * mask  # per-row terms, for the row-clip contrast
        return units

    def check(self, unit_losses):
        if len(checked) < 2 and len(unit_losses) and float(masks[-1].sum(1).max()) >= 2:
            params = [p for p in self.module.parameters() if p.requires_grad]
            self.module.disable_hooks()
            per_person = [torch.autograd.grad(loss, params, retain_graph=True) for loss in unit_losses]
            rows = record_mask.rows
            per_row = [torch.autograd.grad(rows[i, j], params, retain_graph=True)
                       for i in range(rows.shape[0]) for j in range(rows.shape[1]) if masks[-1][i, j] > 0]
            self.module.enable_hooks()

            def clipped_sum(grads_list):
                norms = torch.stack([torch.sqrt(sum((g ** 2).sum() for g in grads)) for grads in grads_list])
                factors = torch.clamp(max_grad_norm / (norms + 1e-6), max=1.0)
                return [sum(f * grads[i] for f, grads in zip(factors, grads_list)) for i in range(len(params))], norms

            expected, norms = clipped_sum(per_person)
            row_clipped, _ = clipped_sum(per_row)
            original_backward(self, unit_losses)
            error = max(float((p.grad - e).abs().max()) for p, e in zip(params, expected))
            contrast = max(float((p.grad - e).abs().max()) for p, e in zip(params, row_clipped))
            checked.append((float(norms.max()), error, contrast))
            return
        original_backward(self, unit_losses)

    monkeypatch.setattr(DPSGDSession, "unit_losses", staticmethod(record_mask))
    monkeypatch.setattr(DPSGDSession, "backward", check)
    batch = 30 if kind == "dp-tvae" else 60  # small batches keep the hand-made per-row gradients cheap
    generator = make_generator(kind, {"epochs": 1, "batch_size": batch, "max_grad_norm": max_grad_norm, "hidden": 16})
    private = PrivateData(full.train, full.domain, Odometer.for_epsilon(3.0, 1e-6, accountant="rdp"),
                          NoiseSource.simulation(5), rows_per_person=K, persons=full.persons.train)
    generator.fit(private)
    assert len(checked) == 2
    for raw_max, error, contrast in checked:
        assert raw_max > 10 * max_grad_norm  # clipping was active, not vacuous
        assert error < 1e-4  # the accumulated gradient IS the sum of clipped per-PERSON gradients
        assert contrast > 100 * max(error, 1e-7)  # and not the sum of clipped per-row gradients
    guarantee = generator.guarantee_
    assert "per-person clipping" in guarantee.mechanism and "add/remove one person" in guarantee.accounting
    labels = [c.label for c in private.odometer.charges]
    assert f"{kind}.persons" in labels and labels[-1].endswith(("dpsgd", "discriminator"))
    persons = next(c for c in private.odometer.charges if c.label == f"{kind}.persons")
    assert persons.params["sensitivity"] == 1  # one person moves the number of persons by one, at any k
    persons, rows = len(set(full.persons.train)), len(full.train)
    # the loader samples persons at batch / (noisy number of persons), not batch / rows
    assert guarantee.details["sample_rate"] == pytest.approx(batch / persons, rel=0.1)
    assert abs(guarantee.details["sample_rate"] - batch / persons) < abs(guarantee.details["sample_rate"] - batch / rows)


def test_a_separate_holdout_file_is_bounded_too_and_row_counts_are_taken_before_the_bound(loaded, diabetes_raw,
                                                                                          tmp_path):
    ids = diabetes_raw["patient_nbr"].str.strip()
    holdout_ids = set(ids.drop_duplicates().iloc[::4])
    paths = {"train": tmp_path / "train.csv", "holdout": tmp_path / "holdout.csv"}
    diabetes_raw[~ids.isin(holdout_ids)].to_csv(paths["train"], index=False)
    diabetes_raw[ids.isin(holdout_ids)].to_csv(paths["holdout"], index=False)
    model = load_threat_model(loaded.path, [f"data.source={paths['train']}", f"data.holdout={paths['holdout']}"])
    noise = NoiseSource.simulation(5)
    inputs = read_inputs(model, noise.generator("split"), noise.keyed_uniform)
    persons = inputs.persons
    assert set(persons.holdout) == holdout_ids and len(inputs.holdout) == len(persons.holdout)
    assert pd.Series(persons.holdout).value_counts().max() <= K
    assert (persons.source_rows.sort_index() == ids.value_counts().sort_index()).all()


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_a_person_level_dp_sgd_audit_fit_samples_the_canary_persons_whole(neighbours):
    """The canary audit's training tables label each canary person's k rows (attacks/base.py PERSON_KEY); the
    pipeline's fit hands the labels to PrivateData, so DP-SGD samples persons there as in the release fit: its
    sample rate is a rate over the labelled persons, not over rows."""
    from privsynth.attacks.canary import draw_audit_tables
    from privsynth.pipeline import ShadowGenerator

    full, _ = neighbours
    canaries = full.holdout.iloc[:150]
    membership, _, tables = draw_audit_tables(full.holdout.iloc[150:], canaries, 300, runs=1, seed=2,
                                              rows_per_canary=K)
    persons = 300 + int(membership[0].sum())
    assert len(tables[0]) == 300 + K * int(membership[0].sum())
    fit = ShadowGenerator("dp-tvae", {"epochs": 1, "batch_size": 40, "hidden": 16, "count_sigma": 10.0}, 3.0, 1e-6,
                          False, full.domain, 50, device="cpu", rows_per_person=K)
    synthetic, odometer = fit._fit(tables[0], seed=4, tap=None)
    assert "__person__" not in synthetic.columns and len(synthetic) == 50
    phase = odometer.charges[-1]
    rate = phase.params["sample_rate"]
    assert rate == pytest.approx(40 / persons, rel=0.1) and abs(rate - 40 / persons) < abs(rate - 40 / len(tables[0]))


def test_the_noise_audit_holds_each_answer_to_the_declared_bound_k(neighbours):
    """A door that forgets the contribution bound (records sensitivity 1 and adds noise sigma where a person has
    k rows) reads as noise ratio 1, since it adds the noise it recorded; the audit holds every answer to the
    threat model's k instead, so that fault implies about k times the epsilon, and a correct door the claim."""
    from privsynth.privacy.noise_audit import NoiseTap, implied_epsilon
    from tests.attacks.faults import RowSensitivityMST

    full, _ = neighbours
    implied = {}
    for name, generator in (("correct", make_generator("mst", {})), ("fault", RowSensitivityMST())):
        tap = NoiseTap()
        private = PrivateData(full.train, full.domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(8),
                              rows_per_person=K, noise_tap=tap)
        generator.fit(private)
        squares, values = tap.totals()
        ratio = math.sqrt(squares / values)
        assert 0.95 < ratio < 1.05  # both add the noise they recorded
        implied[name] = (implied_epsilon(private.odometer.charges, 1e-9, "zcdp", ratio, rows_per_person=K),
                         implied_epsilon(private.odometer.charges, 1e-9, "zcdp", ratio))
    assert implied["correct"][0] == implied["correct"][1] <= 1.0  # the door recorded k: nothing changes
    assert implied["fault"][1] <= 1.0  # held to what it recorded, the fault would pass ...
    assert implied["fault"][0] > 2.0  # ... held to the declared k, it implies about k times the claim
