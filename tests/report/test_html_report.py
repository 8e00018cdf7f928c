"""report.html: self-contained, complete for a reviewer, and free of source records."""
from __future__ import annotations

import base64
import json
import re

import pandas as pd
import pytest

from privsynth.release.load import verify
from privsynth.report.html import HTML_REPORT_NAME, render_html

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = ("decision", "summary", "threat-model", "guarantee", "attacks", "membership", "utility", "provenance")


def _visible_text(html: str) -> str:
    """The HTML without its embedded images (a base64 payload can contain any digit run by chance)."""
    return re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', html)


def test_released_report_is_self_contained_and_internal(released_run):
    review = released_run / "review"
    html = (review / HTML_REPORT_NAME).read_text(encoding="utf-8")
    assert html.splitlines()[1].startswith("<!-- INTERNAL REVIEW PACKAGE") and 'id="internal"' in html
    for section in SECTIONS:
        assert f'id="{section}"' in html, section
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)="(?!data:)[^"#]', html), "every resource must be embedded"
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    # attack chart, ROC curves, DCR histogram, marginals, association heatmap
    assert len(images) == 5
    assert all(base64.b64decode(payload).startswith(PNG_MAGIC) for payload in images)
    manifest = json.loads((released_run / "release" / "manifest.json").read_text())
    assert HTML_REPORT_NAME not in manifest["files"]  # the report describes private data: not in the release
    verify(released_run)
    record = json.loads((review / "private_record.json").read_text())
    assert "RELEASED" in html and record["threat_model"]["sha256"] in html and record["public_manifest_sha256"] in html
    assert "privsynth run" in html and "--replay" in html  # the command that reproduces the run


def test_blocked_report_puts_failed_gates_first(blocked_run):
    html = (blocked_run / "review" / HTML_REPORT_NAME).read_text(encoding="utf-8")
    report = json.loads((blocked_run / "review" / "report.json").read_text())
    assert "BLOCKED" in html
    failed = html.index('id="failed"')
    assert failed < html.index('id="threat-model"') < html.index('id="attacks"')
    for failure in report["failed_checks"]:
        assert failure["check"] in html[failed:html.index('id="summary"')]
    assert "--set gates.tvd_2way=0.001" in html  # the override that blocked it, in the reproduce command


def test_report_answers_the_reviewers_questions(released_run):
    """Released or not, why, under what budget and threat, how sure: each from the report text alone."""
    html = _visible_text((released_run / "review" / HTML_REPORT_NAME).read_text(encoding="utf-8"))
    report = json.loads((released_run / "review" / "report.json").read_text())
    assert f"epsilon {report['privacy']['epsilon']:.3f} spent of 10.000" in html
    assert "left" in html  # the ledger's remaining budget (the fixture's runs share one ledger)
    for column in ("age", "sex", "race", "native_country", "marital_status", "income"):
        assert column in html
    for attack in report["attacks"]:
        assert attack["name"] in html
        assert f"[{attack['ci'][0]:.3f}, {attack['ci'][1]:.3f}]" in html  # every interval is printed


def test_no_source_record_appears(released_run, small_adult_csv):
    """Neither the HTML nor report.json carries a source record, a singling-out predicate or a nearest
    neighbour: fnlwgt is nearly unique per person, so any leaked row would carry its value."""
    source = pd.read_csv(small_adult_csv)
    html = _visible_text((released_run / "review" / HTML_REPORT_NAME).read_text(encoding="utf-8"))
    report_text = (released_run / "review" / "report.json").read_text()
    # run names carry a UTC time (adult-20261201T113948Z), hashes are hex and the manifest's size is printed in
    # bytes: none is a value of a row, but a time such as 11:39:48 and a size of 44793 bytes once matched an
    # fnlwgt of the source
    text = re.sub(r"\d{8}T\d{6}Z|\b[0-9a-f]{16,64}\b|\(\d+ bytes\)", " ", html + report_text)
    numbers = set(re.findall(r"(?<![\d.])\d{5,7}(?![\d.])", text))
    leaked = numbers & {str(v) for v in source["fnlwgt"]}
    assert not leaked, f"fnlwgt values of source rows in the report: {sorted(leaked)[:5]}"
    for marker in ("==", "!=", "' & "):
        assert marker not in html, marker  # anonymeter's predicates look like "age == 37 & sex == 'Male'"
    rows = source.astype(str).agg(", ".join, axis=1)
    assert not any(row in html for row in rows)
    for attack in json.loads(report_text)["attacks"]:
        if attack.get("histogram"):
            assert set(attack["histogram"]) == {"edges", "train", "holdout"}  # counts, never which row


def test_small_cells_are_suppressed(released_run):
    report = json.loads((released_run / "review" / "report.json").read_text())
    marginals = report["comparison"]["marginals"]
    assert "native_country" in marginals
    # 600 holdout rows: most of the 41 countries have fewer than 10 people and are merged into one bar
    country = marginals["native_country"]
    assert country["suppressed_cells"] > 20 and country["labels"][-1] == "other (small cells)"
    assert sum(country["real"]) == pytest.approx(1.0) and sum(country["synthetic"]) == pytest.approx(1.0)


def test_render_from_the_json_alone(released_run):
    """The HTML is a pure function of the folder's JSON (report.json, private_record.json and the public
    manifest): a reviewer re-renders it byte for byte."""
    review = released_run / "review"
    report = json.loads((review / "report.json").read_text())
    record = json.loads((review / "private_record.json").read_text())
    manifest = json.loads((released_run / "release" / "manifest.json").read_text())
    assert render_html(report, record, manifest) == (review / HTML_REPORT_NAME).read_text(encoding="utf-8")


def test_the_holdout_sentence_follows_the_threat_model(released_run):
    """A separate holdout file is named as such; only a split names its probability (issue 22: a report said
    '20% of the rows are held out' of a run that used a holdout file)."""
    import copy

    review = released_run / "review"
    report = json.loads((review / "report.json").read_text())
    record = json.loads((review / "private_record.json").read_text())
    split = _visible_text(render_html(report, record, None))
    assert "held out with probability 0.2" in split and "separate holdout file" not in split
    separate = copy.deepcopy(record)
    separate["threat_model"]["document"]["data"]["holdout"] = "holdout.csv"
    text = _visible_text(render_html(report, separate, None))
    assert "A separate holdout file is the population sample" in text and "held out with probability" not in text
