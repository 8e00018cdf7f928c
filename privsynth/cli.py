"""privsynth command line: a thin typer layer over the library.

Exit codes: 0 released (or command succeeded), 3 blocked by the release gate, 2 bad input. Errors are one
line; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import contextlib
import json
import shlex
import sys
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
    """Shows which step runs and how long each took (the CLI's progress display)."""

    LABELS = {"read": "reading and checking the table", "fit": "fitting the generator",
              "sample": "sampling the candidate table", "attacks": "attacking the candidate (and its controls)",
              "membership": "membership inference: density ratio, shadow models, epsilon audit",
              "utility": "measuring utility", "write": "writing the run folder"}

    def __init__(self) -> None:
        self._status: Any = None
        self._label = ""

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        self._label = self.LABELS.get(name, name)
        with console.status(f"{self._label} ...") as status:
            self._status = status
            yield
        self._status = None
        console.print(f"  [green]done[/] {self._label} ({time.perf_counter() - start:.1f} s)")

    def progress(self, message: str) -> None:
        """Each round or epoch on a line of its own, so the steward sees the history, not just the last."""
        console.print(f"    [dim]{message}[/]", highlight=False, soft_wrap=True)

    def tasks(self, done: int, total: int, label: str) -> None:
        """Independent tasks (shadow fits) as a bar on the step's status line: their order means nothing."""
        if self._status is not None:
            filled = round(30 * done / max(total, 1))
            self._status.update(f"{self._label} ... {label} {done}/{total} [green]{'━' * filled}[/][dim]"
                                f"{'━' * (30 - filled)}[/]")


@app.command()
def validate(threat_model: Path = typer.Argument(..., help="Threat model YAML.")) -> None:
    """Check a threat model and list every problem with its field path.

    Example: privsynth validate threat_models/adult.yaml
    """
    from privsynth.threat_model import load_threat_model

    try:
        loaded = load_threat_model(threat_model)
    except PrivsynthError as exc:
        problems = getattr(exc, "problems", [str(exc)])
        for problem in problems:
            console.print(f"[red]✗[/] {threat_model}: {problem}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    unconfirmed = loaded.model.unconfirmed_columns
    if unconfirmed:
        console.print(f"[yellow]![/] {threat_model}: columns {unconfirmed} are not confirmed as public; "
                      "`run` will refuse until you set confirmed: true", soft_wrap=True)
    out.print(f"✓ {threat_model}: valid threat model {loaded.model.name!r}")


@app.command()
def schema() -> None:
    """Print the threat model's JSON Schema (for editor validation of the YAML)."""
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
            raise PrivsynthError(f"{output}: already exists; choose another -o path (threat models are never overwritten)")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    out.print(f"wrote {output}: review every column marked confirmed: false (its domain was read from the data "
              "and is NOT public until you say so), then the attacker section, then run it")


@app.command()
def run(
    threat_model: Path = typer.Argument(..., help="Threat model YAML."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: output.directory)."),
    set_: list[str] = typer.Option([], "--set", help="Override a field for this run, e.g. privacy.epsilon=3."),
    device: Optional[str] = typer.Option(None, "--device", help="cuda or cpu for neural generators (same as "
                                         "--set compute.device=...); default: compute.device (auto)."),
    ledger: Optional[Path] = typer.Option(None, "--ledger", help="Budget ledger file (default: "
                                          "<output folder>/budget_ledger.sqlite)."),
) -> None:
    """Fit, attack, gate and (if every check passes) release a synthetic table.

    Example: privsynth run threat_models/adult.yaml --out reports --set privacy.epsilon=3 --device cpu
    """
    from privsynth.pipeline import run as run_pipeline
    from privsynth.threat_model import load_threat_model

    command = "privsynth " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with _errors():
        if device is not None and device not in ("cuda", "cpu"):
            raise PrivsynthError(f"--device: {device!r} is not cuda or cpu")
        overrides = (*set_, f"compute.device={device}") if device is not None else tuple(set_)
        loaded = load_threat_model(threat_model, overrides)
        result = run_pipeline(loaded, out=out_dir, reporter=_RichSteps(), command=command, ledger_path=ledger)
    for column, count in {**result.internal["clipped"], **result.internal["mapped_to_fallback"]}.items():
        console.print(f"[yellow]![/] {column}: {count} value(s) outside the public domain were clipped or mapped "
                      "(shown here only, not written to the release)")
    for rule, count in result.internal.get("rule_violations_source", {}).items():
        if count:
            console.print(f"[yellow]![/] {count} real row(s) break the rule {rule!r}: check it is true of the "
                          "data (shown here only, not written to the release)")
    _print_results(result.report)
    if result.decision.released:
        out.print(f"[bold green]RELEASED[/] {result.release_dir}", soft_wrap=True)
        return
    out.print(f"[bold red]BLOCKED[/] no synthetic table was written; reasons in {result.run_dir / 'report.html'}",
              soft_wrap=True)
    for failure in result.decision.failures:
        out.print(f"  - {failure.check}: {failure.reason}", soft_wrap=True)
    raise typer.Exit(EXIT_BLOCKED)


def _fmt(value: object) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_results(report: dict) -> None:
    privacy = report["privacy"]
    guarantee = (f"epsilon {privacy['epsilon']:.3f} (budget {privacy['epsilon_budget']:g}), delta {privacy['delta']:g}"
                 if privacy["dp"] else "NONE (non-DP baseline)")
    table = Table(title=f"{report['run']}: {report['generator']}, DP guarantee: {guarantee}", title_justify="left")
    for column in ("check", "estimate", "95% CI", "threshold", "null ctl", "pos. ctl", "result"):
        table.add_column(column, justify="left" if column == "check" else "right")
    for attack in report["attacks"]:
        null, pos = attack.get("null_control") or {}, attack.get("positive_control") or {}
        table.add_row(attack["name"], _fmt(attack["estimate"]), f"[{attack['ci'][0]:.3f}, {attack['ci'][1]:.3f}]",
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
def inspect(path: Path = typer.Argument(..., help="A run folder (or its manifest.json).")) -> None:
    """Verify a release and print its provenance.

    Example: privsynth inspect reports/adult-20261124T120000Z
    """
    from privsynth.release.load import read_manifest, verify

    with _errors():
        folder, manifest = read_manifest(path)
        status = "blocked (no table)"
        if manifest["decision"] == "released":
            verify(folder)
            status = "released, every file hash verified"
    privacy = manifest["privacy"]
    rows = [
        ("run", manifest["run"]), ("status", status), ("created (UTC)", manifest["created_utc"]),
        ("source", f"{manifest['source']['file']} sha256 {manifest['source']['sha256'][:16]}…"),
        ("threat model", f"{manifest['threat_model']['file']} sha256 {manifest['threat_model']['sha256'][:16]}…"),
        ("overrides", ", ".join(manifest["threat_model"]["overrides"]) or "none"),
        ("generator", f"{manifest['generator']['kind']} params {manifest['generator']['params']} "
                      f"seed {manifest['generator']['seed']} rows {manifest['generator']['rows']}"),
        ("guarantee", f"{privacy['mechanism']}: epsilon {privacy['epsilon']}, delta {privacy['delta']}"
         if privacy["dp"] else f"NONE: {privacy['mechanism']}"),
        ("privsynth", manifest["generator"]["privsynth_version"]),
        ("command", manifest.get("command") or "–"),
    ]
    table = Table(show_header=False)
    for key, value in rows:
        table.add_row(key, str(value))
    for name, entry in manifest["files"].items():
        table.add_row(f"file {name}", f"sha256 {entry['sha256'][:16]}… ({entry['bytes']} bytes)")
    out.print(table)


@app.command()
def sweep(
    threat_model: Path = typer.Argument(..., help="Threat model YAML."),
    epsilons: str = typer.Option("0.3,1,3,10", "--epsilons", help="Budgets to try, comma-separated."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: output.directory)."),
    set_: list[str] = typer.Option([], "--set", help="Override a field for every point, e.g. attacks.shadow.shadow_runs=20."),
    ledger: Optional[Path] = typer.Option(None, "--ledger", help="Budget ledger file (default: "
                                          "<output folder>/budget_ledger.sqlite)."),
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
                           command=command, ledger_path=ledger)
    table = Table(title=f"sweep {result.folder.name}", title_justify="left")
    why = "failed checks, else the closest attack (95% upper end / threshold)"
    for column in ("epsilon", "gate", "tvd_2way", "tstr_auc_gap", why):
        table.add_column(column, justify="left" if column in ("gate", why) else "right")
    for point in result.points:
        table.add_row(f"{point['epsilon']:g}", point["decision"],
                      _fmt(point["utility"].get("tvd_2way", {}).get("value")),
                      _fmt(point["utility"].get("tstr_auc_gap", {}).get("value")), _why(point))
    out.print(table)
    out.print(f"curve: {result.folder / 'sweep.png'}; report: {result.folder / 'sweep.html'}", soft_wrap=True)


def _why(point: dict) -> str:
    """Why a sweep point was blocked, or how close it came: the gate judges an attack by the upper end of its
    interval, so that is what is ranked and shown, not the point estimate."""
    if point["failed_checks"]:
        return ", ".join(c["check"] for c in point["failed_checks"])
    judged = [a for a in point["attacks"] if a["threshold"]]
    if not judged:
        return "–"
    closest = max(judged, key=lambda a: a["ci"][1] / a["threshold"])
    return f"{closest['name']} {closest['ci'][1]:.3f} / {closest['threshold']:g}"


budget_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                         help="The budget ledger: what every run has spent from each source.")
app.add_typer(budget_app, name="budget")


@budget_app.command("show")
def budget_show(
    source: Optional[str] = typer.Argument(None, help="A source file name or SHA-256 prefix (default: all)."),
    ledger: Path = typer.Option(Path("reports") / "budget_ledger.sqlite", "--ledger",
                                help="Budget ledger file (a run's default: <output folder>/budget_ledger.sqlite)."),
) -> None:
    """List each source's spent and remaining budget, then every run booked against it.

    Example: privsynth budget show adult.csv --ledger reports/budget_ledger.sqlite
    """
    from privsynth.privacy.ledger import BudgetLedger

    with _errors():
        book = BudgetLedger(ledger)
        budgets, spends = book.budgets(source), book.spends(source)
    if not budgets:
        out.print(f"no runs recorded in {ledger}" + (f" for source {source!r}" if source else ""))
        return
    totals = Table(title=f"budget ledger {ledger}", title_justify="left")
    for column in ("source", "sha256", "runs", "epsilon spent", "delta spent", "total epsilon", "remaining"):
        totals.add_column(column, justify="left" if column in ("source", "sha256") else "right")
    for b in budgets:
        totals.add_row(b.source_name, b.source_sha256[:12], str(b.runs), _eps(b.epsilon_spent), f"{b.delta_spent:.3g}",
                       "uncapped" if b.total_epsilon is None else f"{b.total_epsilon:g}",
                       "–" if b.remaining is None else _eps(b.remaining))
    out.print(totals)
    runs = Table(title="runs", title_justify="left")
    for column in ("time (UTC)", "source", "release id", "mechanism", "epsilon", "delta", "status"):
        runs.add_column(column, justify="right" if column in ("epsilon", "delta") else "left")
    for e in spends:
        runs.add_row(e.created_utc, e.source_name, e.release_id, e.mechanism, _eps(e.epsilon), f"{e.delta:.3g}",
                     e.status if e.status == "spent" else "reserved (run did not finish)")
    out.print(runs)


def _eps(value: float) -> str:
    return "∞ (non-DP)" if value == float("inf") else f"{value:.4f}"


def main() -> None:
    app()


if __name__ == "__main__":
    main()
