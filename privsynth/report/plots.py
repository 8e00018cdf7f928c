"""The report's figures, drawn with matplotlib from report data (aggregates only) and returned as PNG bytes,
so the HTML can embed them and stay one self-contained file."""
from __future__ import annotations

import io
import math
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display: reports are written by servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

#: the epsilon audits: drawn on their own axis with the claim and what each audit could certify at best
EPSILON_AUDITS = ("empirical_epsilon", "canary_epsilon", "noise_epsilon")
PASS, FAIL, INFO, THRESHOLD, SYN, REAL = "#1a7f37", "#cf222e", "#57606a", "#cf222e", "#0969da", "#8c959f"


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _colour(passed: bool | None) -> str:
    return INFO if passed is None else PASS if passed else FAIL


def attack_chart(attacks: Sequence[Mapping[str, Any]]) -> bytes:
    """Every attack on one chart: estimate (dot), 95% interval (bar), blind baseline (grey tick) and release
    threshold (red tick). Risks and AUCs share the [0, 1] axis; the epsilon audit has its own panel below."""
    risks = [a for a in attacks if a["name"] not in EPSILON_AUDITS]
    audit = [a for a in attacks if a["name"] in EPSILON_AUDITS]
    heights = [max(len(risks), 1) * 0.42 + 0.6] + ([1.0] if audit else [])
    fig, axes = plt.subplots(len(heights), 1, figsize=(8.2, sum(heights) + 0.4),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)

    def draw(ax: plt.Axes, rows: Sequence[Mapping[str, Any]], xmax: float) -> None:
        for y, a in enumerate(rows):
            colour = _colour(a["passed"])
            low, high = a["ci"]
            if None in (a["estimate"], low, high):  # not measured (n = 0): NaN in the result, null in report.json
                ax.text(0.01, y, "not measured", color=FAIL, va="center", fontsize=8)
                continue
            ax.plot([low, high], [y, y], color=colour, lw=3, alpha=0.55, solid_capstyle="butt")
            ax.plot([a["estimate"]], [y], "o", color=colour, ms=7)
            if a.get("baseline") is not None:
                ax.plot([a["baseline"]] * 2, [y - 0.3, y + 0.3], color=INFO, lw=1.5)
            if a.get("threshold") is not None:
                ax.plot([a["threshold"]] * 2, [y - 0.38, y + 0.38], color=THRESHOLD, lw=2, ls="--")
        ax.set_yticks(range(len(rows)), [a["name"] for a in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlim(min([0.0, *(a["ci"][0] for a in rows if a["ci"][0] is not None)]) - 0.02, xmax)
        ax.grid(axis="x", alpha=0.3)

    draw(axes[0][0], risks, 1.02)
    axes[0][0].set_xlabel("risk or AUC (dot: estimate, bar: 95% CI, grey: blind baseline, red dashes: threshold)")
    if audit:
        claimed = max(a.get("threshold") or 1.0 for a in audit)
        floors = [a["details"].get("max_certifiable") or 0.0 for a in audit]
        right = max(2.0 * claimed, *((a["estimate"] or 0.0) * 1.2 for a in audit), *floors, 0.5) * 1.05
        right = min(right, 10.0 * claimed)  # a fault's figure can be thousands: keep the claim readable
        draw(axes[1][0], audit, right)
        for y, (a, floor) in enumerate(zip(audit, floors)):
            if floor:
                axes[1][0].plot([floor], [y], marker="|", color=INFO, ms=14, mew=2)
            if (a["estimate"] or 0.0) > right:
                axes[1][0].annotate(f"{a['estimate']:.3g} →", (right, y), ha="right", va="bottom", color=FAIL,
                                    fontsize=8)
        axes[1][0].set_xlabel("epsilon: 95% lower bound (dot); red dashes: the claim; grey bar: the most this audit "
                              "could certify")
    fig.tight_layout()
    return _png(fig)


def roc_chart(curves: Mapping[str, Mapping[str, Sequence[float]]]) -> bytes:
    """ROC curves of the membership attacks against the candidate table (diagonal: a blind attacker)."""
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.plot([0, 1], [0, 1], color=INFO, lw=1, ls=":", label="blind attacker")
    for name, curve in curves.items():
        ax.plot(curve["fpr"], curve["tpr"], lw=2, label=f"{name} (AUC {curve['auc']:.3f})")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def dcr_chart(histogram: Mapping[str, Sequence[float]]) -> bytes:
    """Distance from each synthetic row to its closest training row and to its closest holdout row (same-size
    sets): if the generator copies, the training curve piles up at zero."""
    edges = np.asarray(histogram["edges"], float)
    centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.bar(centres - widths / 4, histogram["train"], widths / 2, color=FAIL, alpha=0.7,
           label="synthetic → closest training row")
    ax.bar(centres + widths / 4, histogram["holdout"], widths / 2, color=SYN, alpha=0.7,
           label="synthetic → closest holdout row")
    ax.set_xlabel("distance in the public-domain encoding")
    ax.set_ylabel("synthetic rows")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def marginals_chart(marginals: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Real (holdout) against synthetic shares, one panel per column, small cells merged."""
    columns = list(marginals)
    ncols = 2
    nrows = math.ceil(len(columns) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(11, 3.3 * nrows), squeeze=False)
    for ax, column in zip(axes.flat, columns):
        entry = marginals[column]
        x = np.arange(len(entry["labels"]))
        ax.bar(x - 0.2, entry["real"], 0.4, color=REAL, label="real (holdout)")
        ax.bar(x + 0.2, entry["synthetic"], 0.4, color=SYN, label="synthetic")
        ax.set_xticks(x, entry["labels"], rotation=60, ha="right", fontsize=7)
        ax.set_title(f"{column}  (TVD {entry['tvd']:.3f})", fontsize=10)
        ax.set_ylabel("share", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def association_chart(associations: Mapping[str, Any]) -> bytes:
    """Heatmap of synthetic minus real Cramér's V: red where the synthetic table invents dependence, blue
    where it loses it."""
    names = associations["columns"]
    diff = np.asarray(associations["synthetic"]) - np.asarray(associations["real"])
    limit = max(0.05, float(np.abs(diff).max()))
    fig, ax = plt.subplots(figsize=(7.2, 6.2))
    image = ax.imshow(diff, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.8, label="Cramér's V: synthetic − real")
    fig.tight_layout()
    return _png(fig)


def _audit_panel(ax: plt.Axes, points: Sequence[Mapping[str, Any]], eps: Sequence[float],
                 audits: Sequence[str]) -> None:
    """Claim, lower bound and floor on one epsilon axis: a bound under the claim means nothing where the floor
    (the most the audit could certify) is under it too."""
    ax.plot(eps, eps, color=THRESHOLD, ls="--", lw=1.2, label="claimed epsilon")
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, name in enumerate(audits):
        rows = [next((a for a in p["attacks"] if a["name"] == name), None) for p in points]
        bounds = [np.nan if r is None or r["estimate"] is None else r["estimate"] for r in rows]
        floors = [np.nan if r is None or not r.get("floor") else r["floor"]["max_certifiable"] for r in rows]
        ax.plot(eps, bounds, "o-", color=cycle[k % len(cycle)], label=f"{name}: 95% lower bound")
        ax.plot(eps, floors, "_:", color=cycle[k % len(cycle)], ms=14, label=f"{name}: most it could certify")
    ax.set_ylabel("epsilon")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def sweep_chart(points: Sequence[Mapping[str, Any]]) -> bytes:
    """The privacy-utility curve: utility (top) and every attack's risk with its interval (bottom) against
    epsilon, on a log axis, with each attack's threshold. A blocked point is shaded red and names its failed
    checks, so a steward sees which budgets the gate would let out without reading the table."""
    eps = [p["epsilon"] for p in points]
    audits = [n for n in EPSILON_AUDITS if any(a["name"] == n for a in points[0]["attacks"])]
    fig, axes = plt.subplots(2 + bool(audits), 1, figsize=(8.5, 8.8 + 3.0 * bool(audits)), sharex=True)
    top, bottom = axes[0], axes[1]
    for point in points:
        if point["decision"] == "released":
            continue
        for ax in axes:
            ax.axvline(point["epsilon"], color="#cf222e", lw=14, alpha=0.10, zorder=0)
        failed = "\n".join(c["check"] for c in point.get("failed_checks", []))
        top.annotate(f"blocked\n{failed}", xy=(point["epsilon"], 1.01), xycoords=("data", "axes fraction"),
                     ha="center", va="bottom", fontsize=7, color="#cf222e")
    utility_names = sorted({name for p in points for name in p["utility"]})
    for name in utility_names:
        values = [p["utility"].get(name, {}).get("value") for p in points]
        top.plot(eps, [np.nan if v is None else v for v in values], "o-", label=name)
    top.set_ylabel("utility (TVD, AUC gap: lower is better; AUC: higher)")
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    attack_names = [a["name"] for a in points[0]["attacks"] if a["name"] not in EPSILON_AUDITS]
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, name in enumerate(attack_names):
        rows = [next((a for a in p["attacks"] if a["name"] == name), None) for p in points]
        est = [np.nan if r is None else r["estimate"] for r in rows]
        low = [np.nan if r is None else r["ci"][0] for r in rows]
        high = [np.nan if r is None else r["ci"][1] for r in rows]
        colour = cycle[k % len(cycle)]
        bottom.plot(eps, est, "o-", color=colour, label=name)
        bottom.fill_between(eps, low, high, color=colour, alpha=0.12)
        threshold = rows[0]["threshold"] if rows[0] is not None else None
        if threshold is not None:
            bottom.axhline(threshold, color=colour, lw=0.8, ls="--")
    bottom.set_ylabel("attack risk or AUC (band: 95% CI; dashes: threshold)")
    bottom.legend(fontsize=7, ncol=2)
    bottom.grid(alpha=0.3)
    if audits:
        _audit_panel(axes[2], points, eps, audits)
    axes[-1].set_xscale("log")
    axes[-1].set_xticks(eps, [f"{e:g}" for e in eps])
    axes[-1].xaxis.set_minor_formatter(NullFormatter())
    axes[-1].set_xlabel("epsilon (log scale; red band: the gate blocked this point)")
    fig.tight_layout()
    return _png(fig)
