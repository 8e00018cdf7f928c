"""The sole orchestrator: threat model -> data -> fit -> attacks + utility -> gate -> run folder.

Layers never call each other sideways; this module calls them in order, times each step, and is the only
place that holds both the private tables and the candidate. The candidate lives in memory until the gate
releases it: a blocked run writes its report and manifest, and no synthetic table.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Protocol

import numpy as np
import pandas as pd

from privsynth import __version__
from privsynth.attacks.audit import empirical_epsilon
from privsynth.attacks.base import AttackData
from privsynth.attacks.membership.density import density_membership
from privsynth.attacks.membership.shadow import copy_training_rows, run_shadow_models, score_runs, shadow_result
from privsynth.attacks.membership.vulnerable import pick_targets
from privsynth.attacks.registry import run_attacks
from privsynth.data.bundled import bundled_table
from privsynth.data.domain import PublicDomain
from privsynth.data.fingerprint import sha256_file
from privsynth.data.io import DomainReport, check_table, read_raw
from privsynth.data.split import split_positions
from privsynth.errors import DataError, PrivsynthError, ThreatModelError
from privsynth.evaluation.comparison import association_matrices, marginal_shares
from privsynth.evaluation.marginals import marginal_tvd
from privsynth.evaluation.ml import tstr_auc
from privsynth.generators.base import Generator
from privsynth.generators.registry import check_device, is_dp, make_generator, structure_problems
from privsynth.parallel import compute_client, machine_workers
from privsynth.privacy.ledger import LEDGER_NAME, BudgetLedger
from privsynth.privacy.noise_key import key_commitment, load_or_create_noise_key, noise_key_path
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import PrivateData
from privsynth.release.bundle import write_run_folder
from privsynth.release.gate import decide
from privsynth.release.load import TABLE_NAME
from privsynth.release.manifest import MANIFEST_NAME, MANIFEST_VERSION, file_entries, package_versions
from privsynth.report.html import HTML_REPORT_NAME, render_html
from privsynth.report.json_report import REPORT_NAME, build_report
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


@dataclass(frozen=True)
class RunResult:
    decision: Decision
    run_dir: Path
    release_dir: Path | None
    report: dict[str, Any]
    manifest: dict[str, Any]
    attacks: list[AttackResult]
    utility: list[UtilityResult]
    guarantee: Guarantee
    #: what the domain check changed: describes private data, so it is shown to the steward, never written
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
    structure = PublicDomain.from_spec(model.data)
    problems += structure_problems(model.generator.kind, bool(structure.rules), bool(structure.parents),
                                   bool(structure.quantile_columns))
    if problems:
        raise ThreatModelError("threat model", problems)
    check_device(model.compute.device)
    generator = make_generator(model.generator.kind, model.generator.params)
    generator.device = model.compute.device
    return generator


def read_inputs(loaded: LoadedThreatModel) -> Inputs:
    spec = loaded.model.data
    source = bundled_table(spec.source[len(BUNDLED_PREFIX):]) if spec.source.startswith(BUNDLED_PREFIX) \
        else loaded.resolve(spec.source)
    frame, report = check_table(read_raw(source), spec, str(source))
    domain = PublicDomain.from_spec(spec)
    seed = loaded.model.generator.seed
    if spec.holdout:
        holdout_path = loaded.resolve(spec.holdout)
        holdout, _ = check_table(read_raw(holdout_path), spec, str(holdout_path))
        train, holdout_sha = frame, sha256_file(holdout_path)
        train_rows, holdout_rows = np.arange(len(frame)), None
    else:
        train_rows, holdout_rows = split_positions(len(frame), spec.holdout_fraction, seed)
        train = frame.iloc[train_rows].reset_index(drop=True)
        holdout = frame.iloc[holdout_rows].reset_index(drop=True)
        holdout_sha = None
    return Inputs(train, holdout, domain, source.name, sha256_file(source), holdout_sha, report, train_rows,
                  holdout_rows)


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
        private = PrivateData(train, self.domain, odometer_for(generator, self.epsilon, self.delta), seed=seed,
                              allow_non_dp=self.allow_non_dp)
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


@contextlib.contextmanager
def _ledger_entry(ledger: BudgetLedger, inputs: Inputs, model: ThreatModel, release_id: str,
                  private: PrivateData) -> Iterator[None]:
    """Reserve the run's epsilon before the fit and settle it with what the fit spent, even when the fit
    fails (its charges were made before their queries ran, so they count). A blocked run still spent its
    budget: the model was trained on the private rows whether or not its table is released."""
    dp = is_dp(model.generator.kind)
    entry = ledger.reserve(inputs.source_sha256, inputs.source_name, release_id, model.generator.kind,
                           model.privacy.epsilon if dp else math.inf, model.privacy.delta if dp else 0.0,
                           model.privacy.total_epsilon)

    def spent() -> float:
        if not dp:
            return math.inf if private.non_dp_access else 0.0
        return private.odometer.epsilon_spent if private.odometer.charges else 0.0

    try:
        yield
    except BaseException:
        ledger.settle(entry, spent(), model.privacy.delta if dp else 0.0, model.generator.kind)
        raise
    ledger.settle(entry, spent(), model.privacy.delta if dp else 0.0, model.generator.kind)


def _run_name(model: ThreatModel) -> str:
    return f"{model.name}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"


def _free_name(out_dir: Path, name: str) -> str:
    candidate, attempt = name, 0
    while (out_dir / candidate).exists():
        attempt += 1
        candidate = f"{name}-{attempt}"
    return candidate


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
    timings: dict[str, float]
    #: SHA-256 of the steward's secret noise key (the key itself never leaves the output folder's top level)
    noise_key_sha256: str
    #: rule violations in the source and in the generator's raw output: for the internal review, never released
    review: dict[str, Any] = field(default_factory=dict)


def report_columns(model: ThreatModel, limit: int = 8) -> list[str]:
    """The columns the report plots: what the threat model says matters (target, secrets, quasi-identifiers)."""
    named = [model.data.target, *model.attacker.secret_columns, *model.attacker.known_columns]
    kept = model.kept_columns
    return list(dict.fromkeys(c for c in named if c and c in kept))[:limit] or list(kept)[:limit]


def evaluate(
    loaded: LoadedThreatModel,
    name: str,
    ledger: BudgetLedger,
    reporter: StepReporter | None = None,
    inputs: Inputs | None = None,
    noise_key: bytes | None = None,
) -> Evaluation:
    """One pass of the loop without writing anything: fit (booked in ``ledger`` under ``name``), sample,
    attack, measure, judge. ``run`` writes its outcome; ``privsynth sweep`` compares several. The fit's noise
    is keyed by ``noise_key`` (default: the key beside the ledger, see privacy/noise_key.py)."""
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
    if inputs is None:
        with step("read"):
            inputs = read_inputs(loaded)
    odometer = odometer_for(generator, model.privacy.epsilon, model.privacy.delta)
    if noise_key is None:
        noise_key = load_or_create_noise_key(noise_key_path(ledger.path.parent))
    private = PrivateData(inputs.train, inputs.domain, odometer, seed=model.generator.seed,
                          allow_non_dp=model.privacy.allow_non_dp, noise_key=noise_key)
    with step("fit"), _ledger_entry(ledger, inputs, model, name, private):
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
    raw_rules = getattr(generator, "last_rules_", None)
    review = {"rule_violations_source": inputs.domain.rule_violations(inputs.train),
              "rule_violations_raw_output": dict(raw_rules.broken) if raw_rules is not None else {}}
    return Evaluation(loaded, name, inputs, guarantee, odometer, candidate, n_rows, attacks, utility, decision,
                      comparison, _ledger_standing(ledger, inputs.source_sha256), timings, key_commitment(noise_key),
                      review)


def _ledger_standing(ledger: BudgetLedger, source_sha256: str) -> dict[str, Any] | None:
    """The source's budget after this run, for the report: spent, declared total, remaining, runs."""
    standing = ledger.budgets(source_sha256)
    if not standing:
        return None
    b = standing[0]
    return {"ledger": str(ledger.path), "runs": b.runs, "epsilon_spent": b.epsilon_spent,
            "total_epsilon": b.total_epsilon, "remaining": b.remaining}


def run(
    threat_model: LoadedThreatModel | str | Path,
    out: str | Path | None = None,
    overrides: tuple[str, ...] = (),
    reporter: StepReporter | None = None,
    command: str | None = None,
    ledger_path: str | Path | None = None,
) -> RunResult:
    """Run the whole loop once. Raises PrivsynthError on bad input; a blocked run is a normal return.

    The fit is booked in the budget ledger (``ledger_path``, default ``<output folder>/budget_ledger.sqlite``)
    before it starts, and refused there when the source's ``privacy.total_epsilon`` would be exceeded."""
    loaded = threat_model if isinstance(threat_model, LoadedThreatModel) else load_threat_model(threat_model, overrides)
    model = loaded.model
    out_dir = Path(out) if out is not None else Path(model.output.directory)
    name = _free_name(out_dir, _run_name(model))
    ledger = BudgetLedger(ledger_path if ledger_path is not None else out_dir / LEDGER_NAME)
    ev = evaluate(loaded, name, ledger, reporter)
    timings, decision, candidate = dict(ev.timings), ev.decision, ev.candidate
    release_dir = (out_dir / name).resolve() if decision.released else None
    manifest: dict[str, Any] = {}
    report: dict[str, Any] = {}

    def write_table(fmt: str) -> Callable[[Path], None]:
        if fmt == "parquet":
            return lambda path: candidate.to_parquet(path, index=False)
        return lambda path: candidate.to_csv(path, index=False)

    table_writers = {TABLE_NAME if f == "parquet" else "synthetic.csv": write_table(f) for f in model.output.formats} \
        if decision.released else {}
    if decision.released and TABLE_NAME not in table_writers:
        table_writers[TABLE_NAME] = write_table("parquet")  # analysts' load() reads Parquet

    def finish(folder: Path) -> dict[str, Callable[[Path], None]]:
        report.update(build_report(
            run_name=name, release_dir=None if release_dir is None else str(release_dir), decision=decision,
            guarantee=ev.guarantee, attacks=ev.attacks, utility=ev.utility, timings=timings,
            threat_model_name=model.name, generator_kind=model.generator.kind, overrides=loaded.overrides,
            epsilon_budget=model.privacy.epsilon, ledger=ev.ledger, comparison=ev.comparison))
        (folder / REPORT_NAME).write_text(json.dumps(report, indent=2, default=_json_default))
        manifest.update(_manifest(name, loaded, ev.inputs, ev.guarantee, ev.odometer, ev.attacks, ev.utility,
                                  decision, ev.n_rows, command, file_entries(folder, [*table_writers, REPORT_NAME])))
        manifest["privacy"]["noise_key_sha256"] = ev.noise_key_sha256
        (folder / HTML_REPORT_NAME).write_text(render_html(report, manifest), encoding="utf-8")
        manifest["files"].update(file_entries(folder, [HTML_REPORT_NAME]))
        return {MANIFEST_NAME: lambda path: path.write_text(json.dumps(manifest, indent=2, default=_json_default))}

    start = time.perf_counter()
    with (reporter or _Silent()).step("write"):
        run_dir = write_run_folder(out_dir, name, table_writers, after_files=finish)
    timings["write"] = time.perf_counter() - start
    report["timings"] = {k: round(v, 3) for k, v in timings.items()}
    internal = {"clipped": dict(ev.inputs.domain_report.clipped),
                "mapped_to_fallback": dict(ev.inputs.domain_report.mapped_to_fallback), **ev.review}
    return RunResult(decision, run_dir, run_dir if decision.released else None, report, manifest, ev.attacks,
                     ev.utility, ev.guarantee, internal)


def _manifest(name: str, loaded: LoadedThreatModel, inputs: Inputs, guarantee: Guarantee, odometer: Odometer,
              attacks: list[AttackResult], utility: list[UtilityResult], decision: Decision, n_rows: int,
              command: str | None, files: dict[str, Any]) -> dict[str, Any]:
    model = loaded.model
    return {
        "privsynth_manifest": MANIFEST_VERSION,
        "run": name,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "decision": decision.label,
        "failed_checks": [{"check": f.check, "reason": f.reason} for f in decision.failures],
        "source": {"file": inputs.source_name, "sha256": inputs.source_sha256,
                   "holdout_sha256": inputs.holdout_sha256},
        "threat_model": {"file": loaded.path.name, "sha256": model.sha256(), "overrides": list(loaded.overrides),
                         "document": model.model_dump(mode="json")},
        "generator": {"kind": model.generator.kind, "params": model.generator.params, "seed": model.generator.seed,
                      "rows": n_rows, "privsynth_version": __version__, "packages": package_versions()},
        "privacy": {**guarantee.to_dict(), "epsilon_budget": model.privacy.epsilon,
                    "charges": [{"label": c.label, "mechanism": c.mechanism, "rho": c.rho} for c in odometer.charges]},
        "attacks": [a.to_dict() for a in attacks],
        "utility": [u.to_dict() for u in utility],
        "command": command,
        "files": files if decision.released else {k: v for k, v in files.items() if not k.startswith("synthetic")},
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.ndarray, tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
