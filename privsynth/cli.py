"""privsynth command line: a thin typer layer over the library.

Exit codes: 0 released (or command succeeded), 3 blocked by the release gate, 2 bad input, 130 / 143 a run
stopped by SIGINT / SIGTERM (one line says what it left on disk and in the ledger). Errors are one line;
``--debug`` shows the traceback.
"""
from __future__ import annotations

import contextlib
import json
import re
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table

from privsynth.errors import PrivsynthError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Privacy-preserving tabular synthesis with a threat model, attacks and a release gate.")
console = Console(stderr=True, highlight=False)
# results go to stdout; when it is a file or a pipe, keep the table wide enough not to wrap check names
out = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
EXIT_BLOCKED = 3
EXIT_BAD_INPUT = 2
_state = {"debug": False}


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    _state["debug"] = debug


def _fail(exc: BaseException) -> None:
    if _state["debug"]:
        raise exc
    message = " ".join(str(exc).split())
    console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except PrivsynthError as exc:
        _fail(exc)


class _RichSteps:
    """Shows which step runs and how long each took (the CLI's progress display), with a heartbeat: a step
    that has printed nothing for ``HEARTBEAT_S`` seconds prints that it is still running, so a run that waits
    (on a cluster, a long fit) is never silent for long, even where the status line is not shown (a log)."""

    LABELS = {"read": "reading and checking the table",
              "null": "attacking unseen real rows and the training rows (the controls): can the gates judge it?",
              "fit": "fitting the generator",
              "sample": "sampling the candidate table",
              "attacks": "attacking the candidate and its controls",
              "utility": "measuring utility", "write": "writing the run folder"}
    HEARTBEAT_S = 30.0

    def __init__(self) -> None:
        self._status: Any = None
        self._label = ""
        self._last_line = time.monotonic()

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        self._label = self.LABELS.get(name, name)
        self._last_line = time.monotonic()
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(stop, start), daemon=True)
        with console.status(f"{self._label} ...") as status:
            self._status = status
            beat.start()
            try:
                yield
            finally:
                stop.set()
                beat.join()
        self._status = None
        console.print(f"  [green]done[/] {self._label} ({time.perf_counter() - start:.1f} s)")

    def _heartbeat(self, stop: threading.Event, start: float) -> None:
        while not stop.wait(min(1.0, self.HEARTBEAT_S / 4)):
            if time.monotonic() - self._last_line >= self.HEARTBEAT_S:
                self.progress(f"still {self._label} ({time.perf_counter() - start:.0f} s so far)")

    def progress(self, message: str) -> None:
        """Each round or epoch on a line of its own, so the steward sees the history, not just the last."""
        self._last_line = time.monotonic()
        console.print(f"    [dim]{message}[/]", highlight=False, soft_wrap=True)

    def tasks(self, done: int, total: int, label: str) -> None:
        """Independent tasks (shadow fits) as a bar on the step's status line: their order means nothing."""
        if self._status is not None:
            filled = round(30 * done / max(total, 1))
            self._status.update(f"{self._label} ... {label} {done}/{total} [green]{'━' * filled}[/][dim]"
                                f"{'━' * (30 - filled)}[/]")


@app.command()
def validate(
    threat_model: Path = typer.Argument(..., help="Threat model YAML."),
    data: bool = typer.Option(False, "--data", help="Also read the table and check it against the threat model "
                              "(columns, types, values outside the domain, rows for the attacks); nothing is fitted "
                              "and no budget is booked. The counts are shown here only."),
) -> None:
    """Check a threat model and list every problem with its field path (exit 2 when there is one).

    Example: privsynth validate threat_models/adult.yaml --data
    """
    from privsynth.threat_model import load_threat_model

    try:
        loaded = load_threat_model(threat_model)
    except PrivsynthError as exc:
        problems = getattr(exc, "problems", [str(exc)])
        for problem in problems:
            console.print(f"[red]✗[/] {threat_model}: {problem}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    for warning in _draft_warnings(loaded.model):
        console.print(f"[yellow]![/] {threat_model}: {warning}", soft_wrap=True)
    from privsynth.release.gate import shadow_sizing

    sizing = shadow_sizing(loaded.model)
    if sizing is not None and sizing.problem:
        console.print(f"[red]✗[/] {threat_model}: {sizing.problem}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    if sizing is not None and sizing.raised:
        console.print(f"[yellow]![/] {threat_model}: attacks.shadow.targets = {sizing.targets_declared} gives a blind "
                      f"attack an interval too wide for gates.shadow_auc; the run attacks {sizing.targets} targets "
                      f"(half-width {sizing.blind_half_width:.3f}; targets cost no extra generator fit)",
                      soft_wrap=True)
    if data:
        from privsynth.data.validate import data_problems

        with _errors():
            problems = data_problems(loaded)
        for problem in problems:
            console.print(f"[red]✗[/] {problem}", soft_wrap=True)
        if problems:
            raise typer.Exit(EXIT_BAD_INPUT)
    checked = " and its table agree" if data else f": valid threat model {loaded.model.name!r}"
    out.print(f"✓ {threat_model}{checked}")


def _draft_warnings(model: Any) -> list[str]:
    """What `run` will still refuse in a valid document: a draft from `init` is valid but not yet runnable."""
    return [f"{problem} (`run` refuses it until then)" for problem in model.draft_problems()]


@app.command()
def schema() -> None:
    """Print the threat model's JSON Schema (for editor validation of the YAML).

    Example: privsynth schema > threat-model.schema.json
    """
    from privsynth.threat_model import json_schema

    out.print_json(json.dumps(json_schema()))


@app.command()
def init(
    data: Path = typer.Argument(..., help="CSV or Parquet table to scaffold a threat model for."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the YAML (never overwritten)."),
    name: Optional[str] = typer.Option(None, help="Threat model name (default: the file name)."),
) -> None:
    """Scaffold a threat model from a table. Bounds read from data are marked confirmed: false.

    Example: privsynth init data/patients.csv -o threat_models/patients.yaml
    """
    from privsynth.scaffold import scaffold_threat_model

    with _errors():
        text = scaffold_threat_model(data, output, name)
        if output.exists():
            raise PrivsynthError(f"{output}: already exists; choose another -o path (threat models are never "
                                 "overwritten)")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    out.print(f"wrote {output}: review every column marked confirmed: false (its domain was read from the data "
              "and is NOT public until you say so), then the attacker section, then run it")


HOME_HELP = "The steward's state folder (budget ledger, noise key); default $PRIVSYNTH_HOME or ~/.privsynth."


@app.command()
def run(
    threat_model: Path = typer.Argument(..., help="Threat model YAML."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: output.directory)."),
    set_: list[str] = typer.Option([], "--set", help="Override a field for this run, e.g. privacy.epsilon=3."),
    device: Optional[str] = typer.Option(None, "--device", help="cuda or cpu for neural generators (same as "
                                         "--set compute.device=...); default: compute.device (auto)."),
    home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP),
    replay: Optional[Path] = typer.Option(None, "--replay", help="A run's review/private_record.json: reuse its "
                                          "secret nonce to reproduce that run exactly (same data, same threat model)."),
) -> None:
    """Fit, attack, gate and (if every check passes) release a synthetic table.

    Writes OUT/<run>/release/ (the public release: hand out this folder only) and OUT/<run>/review/ (the
    internal review package).

    Example: privsynth run threat_models/adult.yaml --out reports --set privacy.epsilon=3 --device cpu
    """
    from privsynth.pipeline import run as run_pipeline
    from privsynth.threat_model import load_threat_model

    command = "privsynth " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with _interruptible(), _errors():
        if device is not None and device not in ("cuda", "cpu"):
            raise PrivsynthError(f"--device: {device!r} is not cuda or cpu")
        overrides = (*set_, f"compute.device={device}") if device is not None else tuple(set_)
        loaded = load_threat_model(threat_model, overrides)
        nonce, rows = (None, None) if replay is None else _replay(replay, loaded)
        result = run_pipeline(loaded, out=out_dir, reporter=_RichSteps(), command=command, home=home, nonce=nonce,
                              replay_rows=rows)
    for column, count in {**result.internal["clipped"], **result.internal["mapped_to_fallback"]}.items():
        console.print(f"[yellow]![/] {column}: {count} value(s) outside the public domain were clipped or mapped "
                      "(shown here only, not written to the release)")
    for rule, count in result.internal.get("rule_violations_source", {}).items():
        if count:
            console.print(f"[yellow]![/] {count} real row(s) break the rule {rule!r}: check it is true of the "
                          "data (shown here only, not written to the release)")
    _print_results(result.report)
    out.print(f"review package (internal, do not share): {result.review_dir}", soft_wrap=True)
    if result.decision.released:
        from privsynth.release.signing import SIGNATURE_NAME, read_signature

        out.print(f"[bold green]RELEASED[/] {result.release_dir}", soft_wrap=True)
        signer = read_signature(result.release_dir / SIGNATURE_NAME).get("key_fingerprint")
        out.print(f"signed by key {signer}: give analysts this fingerprint to pin (load(..., trusted_key=...), "
                  "privsynth inspect --key)", soft_wrap=True)
        return
    out.print(f"[bold red]BLOCKED[/] no synthetic table was written; reasons in {result.review_dir / 'report.html'}",
              soft_wrap=True)
    for failure in result.decision.failures:
        out.print(f"  - {failure.check}: {failure.reason}", soft_wrap=True)
    raise typer.Exit(EXIT_BLOCKED)


EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}  # 128 + the signal's number, as shells report it


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM and SIGINT stop the run by raising KeyboardInterrupt in it, so the pipeline cleans up (removes its
    reserved folder, marks its ledger entry failed); then one line says what was left, and the exit code is
    128 + the signal. Further signals are ignored while cleaning up, so the cleanup itself is not cut short.

    Why the unraisable hook: a signal that lands inside a garbage-collector callback (jax installs one) raises
    there, and Python swallows the exception ("Exception ignored in ..."), so the run would go on. The hook sees
    that, and delivers the signal again to the main thread, where it raises outside the callback."""
    import _thread
    import signal

    state: dict[str, Any] = {"name": None, "armed": True}
    timers: list[threading.Timer] = []

    def interrupt(signum: int, frame: Any) -> None:
        state["name"] = state["name"] or signal.Signals(signum).name
        if state["armed"]:
            state["armed"] = False
            raise KeyboardInterrupt(state["name"])

    previous_hook = sys.unraisablehook

    def swallowed(unraisable: Any) -> None:
        if unraisable.exc_type is KeyboardInterrupt and state["name"] and not state["armed"]:
            state["armed"] = True  # from another thread: in this one it would raise here, inside the hook
            timer = threading.Timer(0.05, _thread.interrupt_main, (signal.Signals[state["name"]],))
            timer.daemon = True
            timers.append(timer)
            timer.start()
            return
        previous_hook(unraisable)

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    sys.unraisablehook = swallowed
    try:
        yield
    except KeyboardInterrupt as exc:
        from privsynth.errors import RunInterrupted

        name = state["name"] or "SIGINT"
        aftermath = exc.aftermath if isinstance(exc, RunInterrupted) else \
            "nothing written and nothing booked in the ledger (stopped before the run folder was reserved)"
        # the process is on its way out: a late signal (or a re-delivery still pending from the hook) must not
        # raise a second KeyboardInterrupt during shutdown, which would kill it by SIGINT before the line below
        # is flushed
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        previous.clear()
        console.print(f"[bold red]interrupted[/] ({name}): {aftermath}", soft_wrap=True)
        console.file.flush()
        # CPython marks the process "ended by an unhandled KeyboardInterrupt" whenever one leaves an exec() of a
        # string (pythonrun.c, run_eval_code_obj), even when it is caught further up: the signal often lands while
        # dataclasses exec their generated methods (jax's import). Py_RunMain then kills the process by SIGINT at
        # exit instead of returning our code. Every exec of a string clears that mark first, so this one does.
        exec("None")
        raise typer.Exit(EXIT_SIGNAL.get(name, 130))
    finally:
        for timer in timers:
            timer.cancel()
        sys.unraisablehook = previous_hook
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _replay(record_path: Path, loaded: Any) -> tuple[bytes, str]:
    """The nonce and rows fingerprint of an earlier run, refused unless the threat model is the one that run
    used (the pipeline refuses other rows): a nonce reused on changed data or settings would give two releases
    with the same noise, whose difference cancels it."""
    from privsynth.privacy.noise import parse_nonce

    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        nonce, sha, rows = record["nonce"], record["threat_model"]["sha256"], record["source"]["rows_fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        raise PrivsynthError(f"--replay {record_path}: not a readable private_record.json of a privsynth run (it is "
                             "in the run's review/ folder)") from None
    if sha != loaded.model.sha256():
        raise PrivsynthError(f"--replay {record_path}: the threat model (with its --set overrides) differs from the "
                             "one that run used; replay it with the same file and the same overrides")
    return parse_nonce(nonce), str(rows)


def _fmt(value: object) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_results(report: dict) -> None:
    privacy = report["privacy"]
    guarantee = (f"epsilon {privacy['epsilon']:.3f} (budget {privacy['epsilon_budget']:g}), delta {privacy['delta']:g}"
                 if privacy["dp"] else "NONE (non-DP baseline)")
    if privacy["dp"] and privacy.get("unit") == "person":
        guarantee = f"person-level {guarantee}, at most {privacy['max_rows_per_person']} rows per person"
    table = Table(title=f"{report['run']}: {report['generator']}, DP guarantee: {guarantee}", title_justify="left")
    for column in ("check", "estimate", "95% CI", "threshold", "null ctl", "pos. ctl", "result"):
        table.add_column(column, justify="left" if column == "check" else "right")
    for attack in report["attacks"]:
        null, pos = attack.get("null_control") or {}, attack.get("positive_control") or {}
        table.add_row(attack["name"], _fmt(attack["estimate"]), f"[{_fmt(attack['ci'][0])}, {_fmt(attack['ci'][1])}]",
                      _fmt(attack["threshold"]), _fmt(null.get("estimate")), _fmt(pos.get("estimate")),
                      _verdict(attack["passed"]))
    for name, metric in report["utility"].items():
        ci = metric["ci"]
        table.add_row(name, _fmt(metric["value"]), "–" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]",
                      _fmt(metric["threshold"]), "", "", _verdict(metric["passed"]))
    out.print(table)
    out.print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in report["timings"].items()))


def _verdict(passed: Optional[bool]) -> str:
    return "info" if passed is None else "[green]pass[/]" if passed else "[red]FAIL[/]"


@app.command()
def inspect(
    path: Path = typer.Argument(..., help="A release folder, its run folder, or its manifest.json."),
    key: Optional[str] = typer.Option(None, "--key", help="The steward's key fingerprint (hex, as `inspect` prints "
                                      "it) or base64 public key: refuse a release signed by any other key."),
) -> None:
    """Verify a public release (its signature first) and print its provenance (public facts and DP outputs only).

    Example: privsynth inspect reports/adult-20261124T120000Z/release --key 3f9a…(the steward's fingerprint)
    """
    import warnings

    from privsynth.release.load import LegacyReleaseWarning, load, verify

    with _errors():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LegacyReleaseWarning)
            frame = load(path, trusted_key=key)
        if caught:
            console.print(f"[yellow]![/] {' '.join(str(caught[0].message).split())}", soft_wrap=True)
            out.print(f"legacy release {frame.attrs['privsynth'].get('run')}: every file hash verified "
                      f"({len(frame)} rows); see the warning above")
            return
        verified = verify(path, trusted_key=key)
    folder, manifest, signer = verified.folder, verified.manifest, verified.signer
    privacy, dp = manifest.privacy, manifest.dp_outputs
    rows = [
        ("run", manifest.run), ("status", "released, signature, manifest and every file hash verified"),
        ("signed by", f"key {signer.fingerprint}" + (" (matches --key)" if signer.pinned else
                                                     " (not pinned: compare it with the steward's, or pass --key)")),
        ("release folder", str(folder)), ("started (UTC)", manifest.started_utc), ("data set", manifest.dataset),
        ("threat model", f"sha256 {manifest.threat_model.sha256[:16]}… (public parts only)"),
        ("generator", f"{manifest.generator.kind} params {manifest.generator.params} seed {manifest.generator.seed}"),
        ("guarantee", f"({privacy.epsilon}, {privacy.delta})-DP per {privacy.unit}: {privacy.mechanism}"
         if privacy.dp else f"NONE: {privacy.mechanism}"),
        ("DP outputs", f"{dp.rows} rows; epsilon spent {dp.epsilon_spent}; {len(dp.charges)} charges"),
        ("not covered", "; ".join(privacy.not_covered)),
        ("privsynth", manifest.generator.privsynth_version),
    ]
    table = Table(show_header=False)
    for key, value in rows:
        table.add_row(key, str(value))
    for name, entry in manifest.files.items():
        table.add_row(f"file {name}", f"sha256 {entry.sha256[:16]}… ({entry.bytes} bytes)")
    out.print(table)


@app.command()
def sweep(
    threat_model: Path = typer.Argument(..., help="Threat model YAML."),
    epsilons: str = typer.Option("0.3,1,3,10", "--epsilons", help="Budgets to try, comma-separated."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: output.directory)."),
    set_: list[str] = typer.Option([], "--set", help="Override a field for every point, e.g. "
                                   "attacks.shadow.shadow_runs=20."),
    home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP),
) -> None:
    """Run the loop at several budgets without releasing and draw the privacy-utility curve
    (sweep.png, sweep.html). Every point is booked in the budget ledger.

    Example: privsynth sweep threat_models/adult.yaml --epsilons 0.3,1,3,10
    """
    from privsynth.sweep import parse_epsilons
    from privsynth.sweep import sweep as run_sweep

    command = "privsynth " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with _errors():
        values = parse_epsilons(epsilons)
        result = run_sweep(threat_model, values, out=out_dir, overrides=tuple(set_), reporter=_RichSteps(),
                           command=command, home=home)
    table = Table(title=f"sweep {result.folder.name}", title_justify="left")
    why = "failed checks, else the closest attack (95% upper end / threshold)"
    for column in ("epsilon", "gate", "tvd_2way", "tstr_auc_gap", why):
        table.add_column(column, justify="left" if column in ("gate", why) else "right")
    for point in result.points:
        table.add_row(f"{point['epsilon']:g}", point["decision"],
                      _fmt(point["utility"].get("tvd_2way", {}).get("value")),
                      _fmt(point["utility"].get("tstr_auc_gap", {}).get("value")), _why(point))
    out.print(table)
    review = result.folder / "review"
    out.print(f"curve: {review / 'sweep.png'}; report (internal, do not share): {review / 'sweep.html'}",
              soft_wrap=True)


def _why(point: dict) -> str:
    """Why a sweep point was blocked, or how close it came: the gate judges an attack by the upper end of its
    interval, so that is what is ranked and shown, not the point estimate."""
    if point["failed_checks"]:
        return ", ".join(c["check"] for c in point["failed_checks"])
    judged = [a for a in point["attacks"] if a["threshold"] and a["ci"][1] is not None]
    if not judged:
        return "–"
    closest = max(judged, key=lambda a: a["ci"][1] / a["threshold"])
    return f"{closest['name']} {closest['ci'][1]:.3f} / {closest['threshold']:g}"


budget_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                         help="The budget ledger: what every run has spent from each registered data set.")
app.add_typer(budget_app, name="budget")
dataset_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                          help="Registered data sets: the names runs book their budget against, with fixed totals.")
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("register")
def dataset_register(
    name: str = typer.Argument(..., help="The data set's name (the threat model's data.dataset)."),
    total_epsilon: Optional[float] = typer.Option(None, "--total-epsilon", help="Cap on the sum of epsilons."),
    total_delta: Optional[float] = typer.Option(None, "--total-delta", help="Cap on the sum of deltas."),
    home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP),
) -> None:
    """Register a data set with its total budget (or lower the totals of a registered one; raising is refused).

    Example: privsynth dataset register adult --total-epsilon 4 --total-delta 1e-6
    """
    from privsynth.privacy.home import StewardHome

    with _errors():
        for flag, value, upper in (("--total-epsilon", total_epsilon, None), ("--total-delta", total_delta, 1.0)):
            if value is not None and not (0 < value and (upper is None or value < upper)):
                raise PrivsynthError(f"{flag} {value:g}: must be positive" + (" and below 1" if upper else ""))
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            raise PrivsynthError(f"dataset name {name!r}: use letters, digits, '_', '.', '-' (max 64 characters)")
        dataset = StewardHome.locate(home).ledger().register(name, total_epsilon, total_delta)
    out.print(f"data set {dataset.name}: total epsilon {_total(dataset.total_epsilon)}, total delta "
              f"{_total(dataset.total_delta)} (registered {dataset.created_utc})")


def _total(value: Optional[float]) -> str:
    return "uncapped" if value is None else f"{value:g}"


@budget_app.command("show")
def budget_show(
    dataset: Optional[str] = typer.Argument(None, help="A registered data set name (default: all)."),
    home: Optional[Path] = typer.Option(None, "--home", help=HOME_HELP),
) -> None:
    """List each data set's spent and remaining budget, then every run (attempt) booked against it.

    Example: privsynth budget show adult
    """
    from privsynth.privacy.home import StewardHome

    with _errors():
        book = StewardHome.locate(home).ledger()
        budgets, spends = book.budgets(dataset), book.spends(dataset)
    if not budgets:
        out.print(f"no data set registered in {book.path}" + (f" named {dataset!r}" if dataset else ""))
        return
    totals = Table(title=f"budget ledger {book.path}", title_justify="left")
    for column in ("data set", "runs", "epsilon spent", "total epsilon", "remaining", "delta spent", "total delta"):
        totals.add_column(column, justify="left" if column == "data set" else "right")
    for b in budgets:
        totals.add_row(b.dataset.name, str(b.runs), _eps(b.epsilon_spent), _total(b.dataset.total_epsilon),
                       "–" if b.remaining_epsilon is None else _eps(b.remaining_epsilon), f"{b.delta_spent:.3g}",
                       _total(b.dataset.total_delta))
    out.print(totals)
    runs = Table(title="runs (every attempt, released or not)", title_justify="left")
    for column in ("time (UTC)", "data set", "release id", "mechanism", "epsilon", "delta", "status", "outcome"):
        runs.add_column(column, justify="right" if column in ("epsilon", "delta") else "left")
    for e in spends:
        runs.add_row(e.created_utc, e.dataset, e.release_id, e.mechanism, _eps(e.epsilon), f"{e.delta:.3g}",
                     e.status if e.status == "spent" else "reserved (run did not finish)", e.outcome or "–")
    out.print(runs)


def _eps(value: float) -> str:
    return "∞ (non-DP)" if value == float("inf") else f"{value:.4f}"


def main() -> None:
    app()


if __name__ == "__main__":
    main()
