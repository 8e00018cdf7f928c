"""The sole orchestrator: threat model -> data -> fit -> attacks + utility -> gate -> run folder.

Layers never call each other sideways; this module calls them in order, times each step, and is the only
place that holds both the private tables and the candidate. The candidate lives in memory until the gate
releases it. A released run writes two products: the public release (table and public manifest, only public
or DP facts) and the internal review package (every attack and utility figure, the private record); a blocked
run writes its review package and no synthetic table.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Protocol

import numpy as np
import pandas as pd

from privsynth.attacks.audit import empirical_epsilon
from privsynth.attacks.base import AttackData
from privsynth.attacks.membership.density import density_membership
from privsynth.attacks.membership.shadow import copy_training_rows, run_shadow_models, score_runs, shadow_result
from privsynth.attacks.membership.vulnerable import pick_targets
from privsynth.attacks.registry import run_attacks
from privsynth.data.bundled import bundled_table
from privsynth.data.domain import PublicDomain
from privsynth.data.fingerprint import rows_fingerprint, sha256_file
from privsynth.data.io import DomainReport, check_table, read_raw
from privsynth.data.split import assign_holdout
from privsynth.errors import DataError, PrivsynthError, ThreatModelError
from privsynth.evaluation.comparison import association_matrices, marginal_shares
from privsynth.evaluation.marginals import marginal_tvd
from privsynth.evaluation.ml import tstr_auc
from privsynth.generators.base import Generator
from privsynth.generators.registry import check_device, is_dp, make_generator
from privsynth.parallel import compute_client, machine_workers
from privsynth.privacy.home import StewardHome
from privsynth.privacy.ledger import BudgetLedger, Outcome
from privsynth.privacy.noise import NoiseSource, fresh_nonce
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import PrivateData
from privsynth.release.bundle import RELEASE_DIR, REVIEW_DIR, release_reservation, reserve_run_folder, write_run_folder
from privsynth.release.gate import decide
from privsynth.release.manifest import MANIFEST_NAME, PublicManifest, build_manifest
from privsynth.release.table import CSV_NAME, TABLE_NAME, csv_bytes, parquet_bytes
from privsynth.report.json_report import build_report
from privsynth.report.review import private_record, review_files
from privsynth.results import AttackResult, Decision, Guarantee, UtilityResult
from privsynth.threat_model import BUNDLED_PREFIX, LoadedThreatModel, ThreatModel, load_threat_model


class StepReporter(Protocol):
    """How the pipeline tells a front end (the CLI's progress display) which step is running."""

    def step(self, name: str) -> ContextManager[None]: ...

    def progress(self, message: str) -> None:
        """A one-line update from inside a long step (AIM's rounds, DP-SGD's epochs)."""

    def tasks(self, done: int, total: int, label: str) -> None:
        """``done`` of ``total`` independent tasks (shadow fits) finished, in any order."""


class _Silent:
    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        yield

    def progress(self, message: str) -> None:
        pass

    def tasks(self, done: int, total: int, label: str) -> None:
        pass


@dataclass(frozen=True)
class Inputs:
    """The checked private tables and what the steward's private records say about them (never released)."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    domain: PublicDomain
    source_name: str
    source_sha256: str
    holdout_sha256: str | None
    domain_report: DomainReport
    #: source-table row number of each train / holdout row (None: the holdout came from its own file)
    train_rows: np.ndarray | None = None
    holdout_rows: np.ndarray | None = None

    @property
    def rows(self) -> pd.DataFrame:
        """Every checked row of the source (train and, when split from it, holdout): the ledger's fingerprint."""
        if self.holdout_rows is None:
            return self.train
        return pd.concat([self.train, self.holdout], ignore_index=True)


@dataclass(frozen=True)
class RunResult:
    """A finished run: where its folder is, the decision, and the documents written (as values)."""

    decision: Decision
    run_dir: Path
    release_dir: Path | None
    review_dir: Path
    report: dict[str, Any]
    manifest: PublicManifest | None
    record: dict[str, Any]
    attacks: list[AttackResult]
    utility: list[UtilityResult]
    guarantee: Guarantee
    #: what the domain check changed: describes private data, so it is shown to the steward, never released
    internal: dict[str, Any] = field(default_factory=dict)


def preflight(model: ThreatModel) -> Generator:
    """Refusals that need no data (unconfirmed bounds, a non-DP generator without consent, bad generator
    parameters), before the private table is read. Returns the unfitted generator."""
    problems = []
    if model.unconfirmed_columns:
        problems.append(f"data.columns {model.unconfirmed_columns} have bounds or categories read from data "
                        "(confirmed: false); check they are public knowledge, then set confirmed: true")
    if not is_dp(model.generator.kind) and not model.privacy.allow_non_dp:
        problems.append(f"generator.kind {model.generator.kind!r} has no differential-privacy guarantee; set "
                        "privacy.allow_non_dp: true to run it as a labelled non-DP baseline")
    if problems:
        raise ThreatModelError("threat model", problems)
    check_device(model.compute.device)
    generator = make_generator(model.generator.kind, model.generator.params)
    generator.device = model.compute.device
    return generator


def read_inputs(loaded: LoadedThreatModel, split: np.random.Generator) -> Inputs:
    """Read and check the source (and holdout) against the public domain. Without a holdout file, every row
    goes to the holdout by its own draw from ``split``, the run's secret generator (data/split.py)."""
    spec = loaded.model.data
    source = bundled_table(spec.source[len(BUNDLED_PREFIX):]) if spec.source.startswith(BUNDLED_PREFIX) \
        else loaded.resolve(spec.source)
    frame, report = check_table(read_raw(source), spec, str(source))
    domain = PublicDomain(loaded.model.kept_columns, target=spec.target)
    if spec.holdout:
        holdout_path = loaded.resolve(spec.holdout)
        holdout, _ = check_table(read_raw(holdout_path), spec, str(holdout_path))
        return Inputs(frame, holdout, domain, source.name, sha256_file(source), sha256_file(holdout_path), report,
                      np.arange(len(frame)), None)
    train_rows, holdout_rows = assign_holdout(len(frame), spec.holdout_fraction, split)
    train = frame.iloc[train_rows].reset_index(drop=True)
    holdout = frame.iloc[holdout_rows].reset_index(drop=True)
    return Inputs(train, holdout, domain, source.name, sha256_file(source), None, report, train_rows, holdout_rows)


def attack_tables(train: pd.DataFrame, holdout: pd.DataFrame, model: ThreatModel,
                  domain: PublicDomain) -> tuple[AttackData, pd.DataFrame, pd.DataFrame]:
    """Members (training rows), control and null rows (disjoint holdout rows), all of one size."""
    spec = model.attacks
    size = min(spec.sample_size, len(train), len(holdout) // 2)
    if size < 20:
        raise DataError(f"the holdout has {len(holdout)} rows: attacks need at least 40 (raise "
                        "data.holdout_fraction or give a larger data.holdout file)")
    rng = np.random.default_rng([spec.seed, 0xA77])
    members = train.iloc[np.sort(rng.choice(len(train), size, replace=False))].reset_index(drop=True)
    order = rng.permutation(len(holdout))
    control = holdout.iloc[np.sort(order[:size])].reset_index(drop=True)
    null = holdout.iloc[np.sort(order[size:2 * size])].reset_index(drop=True)
    data = AttackData(members, control, domain, tuple(model.attacker.known_columns),
                      tuple(model.attacker.secret_columns), spec.n_attacks, spec.seed)
    return data, null, members


@dataclass(frozen=True)
class ShadowGenerator:
    """The shadow attack's ``fit_and_sample``: a fresh generator of the release's kind, parameters and budget,
    fitted on one shadow training set through its own PrivateData and odometer (so a DP generator is attacked
    exactly as it runs), then sampled. Plain data at module level, so dask can pickle it to its workers;
    attacks/ receives it as a callable and never imports generators/ or privacy/."""

    kind: str
    params: dict[str, Any]
    epsilon: float
    delta: float
    allow_non_dp: bool
    domain: PublicDomain
    n_rows: int

    device: str = "auto"

    def __call__(self, train: pd.DataFrame, seed: int) -> pd.DataFrame:
        generator = make_generator(self.kind, self.params)
        generator.device = self.device
        private = PrivateData(train, self.domain, odometer_for(generator, self.epsilon, self.delta),
                              NoiseSource.simulation(seed), allow_non_dp=self.allow_non_dp)
        generator.fit(private)
        return self.domain.cast(generator.sample(self.n_rows, seed=seed))


def odometer_for(generator: Generator, epsilon: float, delta: float) -> Odometer:
    """The fit's odometer, keeping the books the way the generator composes: zCDP or an Opacus accountant."""
    return Odometer.for_epsilon(epsilon, delta, accountant=generator.accountant)


def shadow_targets(inputs: Inputs, model: ThreatModel) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[Any]]]:
    """The shadow attack's targets, its reference population (the holdout without any target), and what the
    report may say about each target: its source row number and isolation score, never its values."""
    spec, train, holdout = model.attacks.shadow, inputs.train, inputs.holdout
    reference_mask = np.ones(len(holdout), dtype=bool)
    if spec.target_rows:
        in_train = {int(r): i for i, r in enumerate(inputs.train_rows)} if inputs.train_rows is not None else {}
        in_holdout = {int(r): i for i, r in enumerate(inputs.holdout_rows)} if inputs.holdout_rows is not None else {}
        picked = []
        for row in spec.target_rows:
            if row in in_train:
                picked.append(train.iloc[[in_train[row]]])
            elif row in in_holdout:
                picked.append(holdout.iloc[[in_holdout[row]]])
                reference_mask[in_holdout[row]] = False
            else:
                raise DataError(f"attacks.shadow.target_rows: row {row} is not a row of data.source "
                                f"({len(train) + len(holdout) if inputs.holdout_rows is not None else len(train)} rows,"
                                " numbered from 0)")
        targets = pd.concat(picked, ignore_index=True)
        described: dict[str, list[Any]] = {"source_row": list(spec.target_rows), "isolation": [None] * len(picked)}
    else:
        positions, isolation = pick_targets(train, inputs.domain, spec.targets, spec.selection, model.attacks.seed)
        targets = train.iloc[positions].reset_index(drop=True)
        source_rows = inputs.train_rows[positions] if inputs.train_rows is not None else positions
        described = {"source_row": [int(r) for r in source_rows],
                     "isolation": [round(float(isolation[p]), 4) for p in positions]}
    reference = holdout[reference_mask].reset_index(drop=True)
    if spec.train_size > len(reference):
        raise DataError(f"attacks.shadow.train_size {spec.train_size} exceeds the {len(reference)} holdout rows the "
                        "attacker draws shadow training sets from; lower it or raise data.holdout_fraction")
    return targets, reference, described


def membership_attacks(inputs: Inputs, model: ThreatModel, data: AttackData, reference: pd.DataFrame,
                       candidate: pd.DataFrame, tasks: Callable[[int, int, str], None] = lambda d, t, label: None,
                       ) -> tuple[list[AttackResult], dict[str, AttackResult]]:
    """The density attack (its reference: holdout rows disjoint from the control) and, when enabled, the
    shadow-model attack, its epsilon audit, and its positive control: the same attack against a "generator"
    that publishes its training rows, which it must see through. Returns results and positive controls."""
    results = [density_membership(data, candidate, reference)]
    positives = {"membership_density_auc": density_membership(data, data.members, reference)}
    spec = model.attacks.shadow
    if not spec.enabled:
        return results, positives
    targets, population, described = shadow_targets(inputs, model)
    kind = model.generator.kind
    factory = ShadowGenerator(kind, dict(model.generator.params), model.privacy.epsilon,
                              model.privacy.delta, model.privacy.allow_non_dp, inputs.domain,
                              spec.synthetic_rows or 5 * spec.train_size, model.compute.device)
    seed = model.attacks.seed
    settings = {"train_size": spec.train_size, "synthetic_rows": factory.n_rows,
                "selection": "target_rows" if spec.target_rows else spec.selection}
    workers = model.compute.workers or min(machine_workers(), spec.shadow_runs)
    with compute_client(model.compute.scheduler, workers) as client:
        runs = run_shadow_models(targets, population, inputs.domain, factory, spec.train_size, spec.shadow_runs,
                                 seed, client, progress=lambda done, total: tasks(done, total, f"{kind} shadow fits"))
        copies = run_shadow_models(targets, population, inputs.domain, copy_training_rows, spec.train_size,
                                   spec.shadow_runs, seed, client)
    scores = score_runs(runs, seed)
    results += [shadow_result(runs, scores, described, seed, settings), empirical_epsilon(scores, model.privacy.delta)]
    positives["shadow_auc"] = shadow_result(copies, score_runs(copies, seed), described, seed, settings)
    return results, positives


@dataclass(frozen=True)
class Booking:
    """Where a pass of the loop books its budget: the steward's ledger, and the private facts the entry keeps
    (the rows' keyed fingerprint, so the same rows cannot be booked under two data set names, and the nonce)."""

    ledger: BudgetLedger
    rows_fingerprint: str | None
    nonce_hex: str
    outcome_on_success: Outcome | None = None


@contextlib.contextmanager
def _ledger_entry(booking: Booking, model: ThreatModel, release_id: str, private: PrivateData) -> Iterator[int]:
    """Reserve the run's epsilon and delta before the fit and settle them with what the fit spent, even when
    the fit fails (its charges were made before their queries ran, so they count). A blocked run still spent
    its budget: the model was trained on the private rows whether or not its table is released."""
    dp = is_dp(model.generator.kind)
    epsilon, delta = (model.privacy.epsilon, model.privacy.delta) if dp else (math.inf, 1.0)
    entry = booking.ledger.reserve(model.dataset, release_id, model.generator.kind, epsilon, delta,
                                   total_epsilon=model.privacy.total_epsilon, total_delta=model.privacy.total_delta,
                                   rows_fingerprint=booking.rows_fingerprint, nonce=booking.nonce_hex)

    def spent() -> tuple[float, float]:
        if not dp:
            return (math.inf, 1.0) if private.non_dp_access else (0.0, 0.0)
        return (private.odometer.epsilon_spent, delta) if private.odometer.charges else (0.0, 0.0)

    try:
        yield entry
    except BaseException:
        booking.ledger.settle(entry, *spent(), model.generator.kind, outcome="failed")
        raise
    booking.ledger.settle(entry, *spent(), model.generator.kind, outcome=booking.outcome_on_success)


def _run_name(model: ThreatModel, started: datetime) -> str:
    return f"{model.name}-{started.strftime('%Y%m%dT%H%M%SZ')}"


@dataclass(frozen=True)
class Evaluation:
    """Everything one pass of the loop produced before anything is written: the fitted generator's guarantee,
    the candidate table (in memory only), every judged result and the gate's decision."""

    loaded: LoadedThreatModel
    name: str
    inputs: Inputs
    guarantee: Guarantee
    odometer: Odometer
    candidate: pd.DataFrame
    n_rows: int
    attacks: list[AttackResult]
    utility: list[UtilityResult]
    decision: Decision
    comparison: dict[str, Any]
    ledger: dict[str, Any] | None
    ledger_entry: int
    timings: dict[str, float]


def report_columns(model: ThreatModel, limit: int = 8) -> list[str]:
    """The columns the report plots: what the threat model says matters (target, secrets, quasi-identifiers)."""
    named = [model.data.target, *model.attacker.secret_columns, *model.attacker.known_columns]
    kept = model.kept_columns
    return list(dict.fromkeys(c for c in named if c and c in kept))[:limit] or list(kept)[:limit]


def evaluate(
    loaded: LoadedThreatModel,
    name: str,
    booking: Booking,
    noise: NoiseSource,
    inputs: Inputs,
    reporter: StepReporter | None = None,
) -> Evaluation:
    """One pass of the loop without writing anything: fit (booked under ``name``), sample, attack, measure,
    judge. Every DP noise draw of the fit comes from ``noise`` (the steward's key and the run's nonce).
    ``run`` writes its outcome; ``privsynth sweep`` compares several."""
    model = loaded.model
    reporter = reporter or _Silent()
    timings: dict[str, float] = {}

    @contextlib.contextmanager
    def step(label: str) -> Iterator[None]:
        start = time.perf_counter()
        with reporter.step(label):
            yield
        timings[label] = time.perf_counter() - start

    generator = preflight(model)
    if noise.simulated:
        raise PrivsynthError("a fit whose output may be released must draw its noise from a secret source")
    odometer = odometer_for(generator, model.privacy.epsilon, model.privacy.delta)
    private = PrivateData(inputs.train, inputs.domain, odometer, noise, allow_non_dp=model.privacy.allow_non_dp)
    with step("fit"), _ledger_entry(booking, model, name, private) as entry:
        generator.fit(private, progress=reporter.progress)
    guarantee = generator.guarantee_
    if guarantee.dp and private.non_dp_access:
        raise PrivsynthError(f"generator {model.generator.kind!r} read raw rows but claims DP: refusing")
    with step("sample"):
        n_rows = model.generator.n_rows or generator.default_rows_
        candidate = inputs.domain.cast(generator.sample(n_rows, seed=model.generator.seed))
    with step("attacks"):
        data, null_table, positive_table = attack_tables(inputs.train, inputs.holdout, model, inputs.domain)
        attacks = run_attacks(data, candidate)
        nulls = {r.name: r for r in run_attacks(data, null_table)}
        positives = {r.name: r for r in run_attacks(data, positive_table)}
    with step("membership"):
        membership, membership_positives = membership_attacks(inputs, model, data, null_table, candidate,
                                                              tasks=reporter.tasks)
        attacks += membership
        positives.update(membership_positives)
    with step("utility"):
        utility = marginal_tvd(inputs.holdout, candidate, inputs.domain, seed=model.attacks.seed)
        utility += tstr_auc(inputs.train, candidate, inputs.holdout, inputs.domain, model.data.target,
                            seed=model.attacks.seed)
        comparison = {"marginals": marginal_shares(inputs.holdout, candidate, inputs.domain, report_columns(model)),
                      "associations": association_matrices(inputs.holdout, candidate, inputs.domain)}
    attacks, utility, decision = decide(attacks, utility, model.gates, nulls, positives,
                                        claimed_epsilon=guarantee.epsilon if guarantee.dp else None)
    return Evaluation(loaded, name, inputs, guarantee, odometer, candidate, n_rows, attacks, utility, decision,
                      comparison, _ledger_standing(booking.ledger, model.dataset), entry, timings)


def _ledger_standing(ledger: BudgetLedger, dataset: str) -> dict[str, Any] | None:
    """The data set's budget after this run, for the review: spent, registered totals, remaining, runs."""
    standing = ledger.budgets(dataset)
    if not standing:
        return None
    b = standing[0]
    return {"ledger": str(ledger.path), "dataset": dataset, "runs": b.runs, "epsilon_spent": b.epsilon_spent,
            "delta_spent": b.delta_spent, "total_epsilon": b.dataset.total_epsilon,
            "total_delta": b.dataset.total_delta, "remaining": b.remaining_epsilon}


def prepare(loaded: LoadedThreatModel, home: StewardHome, noise: NoiseSource,
            reporter: StepReporter | None = None) -> tuple[Inputs, str]:
    """Preflight, read and split the data, and fingerprint its rows under the steward's key."""
    preflight(loaded.model)
    with (reporter or _Silent()).step("read"):
        inputs = read_inputs(loaded, noise.generator("split"))
    return inputs, rows_fingerprint(inputs.rows, home.noise_key())


def run(
    threat_model: LoadedThreatModel | str | Path,
    out: str | Path | None = None,
    overrides: tuple[str, ...] = (),
    reporter: StepReporter | None = None,
    command: str | None = None,
    home: str | Path | None = None,
    nonce: bytes | None = None,
    replay_rows: str | None = None,
    started: datetime | None = None,
) -> RunResult:
    """Run the whole loop once. Raises PrivsynthError on bad input; a blocked run is a normal return.

    The fit is booked in the steward's ledger (``home``, default ``$PRIVSYNTH_HOME`` or ``~/.privsynth``)
    before it starts, and refused there when the data set's registered totals would be exceeded. Every run
    draws a fresh secret ``nonce`` from the operating system; passing one (``--replay`` of a private record)
    reproduces that run's noise exactly, given the same key. Never pass the nonce of one run to a run on other
    rows or other settings whose output is released: the two outputs would share their noise. The CLI's
    ``--replay`` passes ``replay_rows`` (the earlier run's rows fingerprint), and other rows are refused.
    ``started`` (default: now) names the run and is its public start time."""
    loaded = threat_model if isinstance(threat_model, LoadedThreatModel) else load_threat_model(threat_model, overrides)
    model = loaded.model
    steward = StewardHome.locate(home)
    out_dir = Path(out) if out is not None else Path(model.output.directory)
    steward.check_outside(out_dir)
    key = steward.noise_key()
    nonce = fresh_nonce() if nonce is None else nonce
    noise = NoiseSource.secret(key, nonce)
    started = (started or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    inputs, fingerprint = prepare(loaded, steward, noise, reporter)
    if replay_rows is not None and replay_rows != fingerprint:
        raise PrivsynthError("--replay: these are not the rows of the run being replayed (their keyed fingerprint "
                             "differs); replaying its noise on other rows would undo the guarantee, so it is refused")
    run_dir = reserve_run_folder(out_dir, _run_name(model, started))
    try:
        ev = evaluate(loaded, run_dir.name, Booking(steward.ledger(), fingerprint, nonce.hex()), noise, inputs,
                      reporter)
        start = time.perf_counter()
        with (reporter or _Silent()).step("write"):
            documents = RunDocuments.build(ev, started, nonce, key, fingerprint, command)
            write_run_folder(run_dir, documents.files)
    except BaseException:
        release_reservation(run_dir)
        raise
    steward.ledger().record_outcome(ev.ledger_entry, ev.decision.label)
    documents.report["timings"]["write"] = round(time.perf_counter() - start, 3)
    internal = {"clipped": dict(ev.inputs.domain_report.clipped),
                "mapped_to_fallback": dict(ev.inputs.domain_report.mapped_to_fallback)}
    return RunResult(ev.decision, run_dir, run_dir / RELEASE_DIR if ev.decision.released else None,
                     run_dir / REVIEW_DIR, documents.report, documents.manifest, documents.record, ev.attacks,
                     ev.utility, ev.guarantee, internal)


@dataclass(frozen=True)
class RunDocuments:
    """Every file of a run folder, computed as values before anything is written: the public release (table and
    manifest, released runs only) and the internal review package."""

    manifest: PublicManifest | None
    report: dict[str, Any]
    record: dict[str, Any]
    files: dict[str, bytes]

    @classmethod
    def build(cls, ev: Evaluation, started: datetime, nonce: bytes, key: bytes, fingerprint: str,
              command: str | None) -> "RunDocuments":
        model = ev.loaded.model
        files: dict[str, bytes] = {}
        manifest = None
        if ev.decision.released:
            tables = {TABLE_NAME: parquet_bytes(ev.candidate, ev.name, model.dataset, model.generator.kind)}
            if "csv" in model.output.formats:
                tables[CSV_NAME] = csv_bytes(ev.candidate)
            manifest = build_manifest(run=ev.name, started_utc=_iso(started), dataset=model.dataset,
                                      threat_model=model, guarantee=ev.guarantee, charges=ev.odometer.charges,
                                      rows=ev.n_rows, files=tables)
            files.update({f"{RELEASE_DIR}/{n}": b for n, b in tables.items()})
            files[f"{RELEASE_DIR}/{MANIFEST_NAME}"] = manifest.to_json().encode()
        report = build_report(
            run_name=ev.name, decision=ev.decision, guarantee=ev.guarantee, attacks=ev.attacks, utility=ev.utility,
            timings=ev.timings, threat_model_name=model.name, generator_kind=model.generator.kind,
            overrides=ev.loaded.overrides, epsilon_budget=model.privacy.epsilon, ledger=ev.ledger,
            comparison=ev.comparison, charges=[{"label": c.label, "mechanism": c.mechanism, "rho": c.rho} for c in ev.odometer.charges], rows=ev.n_rows,
            domain_report=ev.inputs.domain_report)
        record = private_record(
            run=ev.name, started_utc=_iso(started), dataset=model.dataset, nonce=nonce, key=key,
            loaded=ev.loaded, source=ev.inputs.source_name, source_sha256=ev.inputs.source_sha256,
            holdout_sha256=ev.inputs.holdout_sha256, rows_fingerprint=fingerprint, command=command,
            ledger=ev.ledger, ledger_entry=ev.ledger_entry, manifest=manifest)
        files.update({f"{REVIEW_DIR}/{n}": b for n, b in review_files(report, record, manifest).items()})
        return cls(manifest, report, record, files)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
