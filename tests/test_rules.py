"""Consistency rules: the parser reads the documented grammar, rejects what it cannot read, and evaluation
follows SQL CHECK semantics (a rule is broken only when its premise is true and its conclusion false)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privsynth.rules import (ColumnFacts, Compare, InCategory, InList, IsMissing, RuleSyntaxError, parse_rule,
                             rule_problems, violations)

FACTS = {"age": ColumnFacts(True), "hours": ColumnFacts(True),
         "marital": ColumnFacts(False, ("Married", "Never-married")),
         "code": ColumnFacts(False, ("250.1", "250.2", "428"), parent="block", parent_of={"250.1": "25", "250.2": "25",
                                                                                          "428": "42"}),
         "block": ColumnFacts(False, ("25", "42"))}


def test_parses_every_atom_of_the_grammar():
    rule = parse_rule("age < 15 and marital is not missing -> hours <= 0")
    assert rule.premise == (Compare(rule.premise[0].left, "<", 15.0), IsMissing("marital", negate=True))
    assert rule.columns == ["age", "marital", "hours"]
    assert parse_rule("code in category(block)").conclusion == (InCategory("code", "block"),)
    assert parse_rule("marital not in ['Married', \"Never-married\"]").conclusion == \
        (InList("marital", ("Married", "Never-married"), negate=True),)
    assert parse_rule("`age` >= -1.5e1").conclusion[0].right == -15.0


@pytest.mark.parametrize("text, where", [("age <", "found the end"), ("age < 15 ->", "found the end"),
                                         ("age 15", "comparison"), ("age < 15 extra", "end of the rule"),
                                         ("age in [1, 2", "found the end"), ("age ~ 3", "cannot read")])
def test_malformed_rules_say_what_was_expected(text, where):
    with pytest.raises(RuleSyntaxError, match=where):
        parse_rule(text)


def test_type_problems_name_the_column_and_the_fix():
    assert rule_problems(parse_rule("age < 15 -> marital is missing"), FACTS) == []
    assert "unknown column 'agee'" in rule_problems(parse_rule("agee < 15"), FACTS)
    assert any("not a declared value" in p for p in rule_problems(parse_rule("marital == 'Wed'"), FACTS))
    assert any("needs numbers" in p for p in rule_problems(parse_rule("marital < 'Married'"), FACTS))
    assert any("no declared parent" in p for p in rule_problems(parse_rule("marital in category(block)"), FACTS))


def test_missing_values_make_a_rule_unknown_not_broken():
    frame = pd.DataFrame({"age": [10.0, 10.0, 30.0, np.nan, 12.0], "hours": [0.0, 5.0, 40.0, 3.0, np.nan],
                          "marital": pd.Categorical([None, "Married", "Married", "Married", None]),
                          "code": ["250.1", "428", "250.2", None, "428"], "block": ["25", "25", "25", "42", None]})
    assert violations(parse_rule("age < 15 -> marital is missing"), frame, FACTS).tolist() == \
        [False, True, False, False, False]
    assert violations(parse_rule("age < 15 -> hours <= 0"), frame, FACTS).tolist() == \
        [False, True, False, False, False]  # hours unknown in row 4: not a break
    assert violations(parse_rule("code in category(block)"), frame, FACTS).tolist() == \
        [False, True, False, False, False]
    assert violations(parse_rule("hours <= age"), frame, FACTS).tolist() == [False, False, True, False, False]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 90), st.integers(0, 99)), min_size=1, max_size=30),
       st.integers(0, 90))
def test_an_implication_breaks_exactly_when_premise_holds_and_conclusion_fails(rows, cut):
    frame = pd.DataFrame(rows, columns=["age", "hours"]).astype(float)
    broken = violations(parse_rule(f"age < {cut} -> hours >= age"), frame, FACTS)
    expected = [(a < cut) and not (h >= a) for a, h in rows]
    assert broken.tolist() == expected


def test_conditioning_on_the_premise_keeps_the_premise_column_and_fixes_the_conclusion(adult_domain):
    """A raw batch where every third Bachelors row has the wrong education_num: the filter redraws only
    education_num of those rows, from consistent rows with the same premise; education keeps its counts."""
    from privsynth.data.domain import PublicDomain
    from privsynth.generators.filtering import draw_with_rules

    domain = PublicDomain(adult_domain.columns, rules=["education == 'Bachelors' -> education_num == 13",
                                                       "capital_gain <= 99999"])
    def draw(n, rng):
        frame = pd.DataFrame({n_: [None] * n for n_ in domain.names})
        frame["education"] = ["Bachelors" if i % 2 else "HS-grad" for i in range(n)]
        frame["education_num"] = [(10 if i % 3 == 0 else 13) if i % 2 else 9 for i in range(n)]
        frame["capital_gain"], frame["capital_loss"] = 0, 0
        return frame
    table, report = draw_with_rules(draw, 600, np.random.default_rng(0), domain)
    assert (table["education"] == "Bachelors").sum() == 300 and report.rows_rejected == 0
    assert (table.loc[table["education"] == "Bachelors", "education_num"] == 13).all()
    assert report.rows_repaired == 100 and report.broken["education == 'Bachelors' -> education_num == 13"] == 100
