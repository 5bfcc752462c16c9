"""Label selectors: kubectl's grammar and errors, checked against an independent reference.

The reference below is written from the grammar's description (kubernetes.io "Labels and
Selectors": equality- and set-based requirements, comma = AND), not from ``reconciler.labels``:
it splits on top-level commas and matches each term with one regular expression.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import labels as L

_KEY = r"(?:[a-z0-9.-]+/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VAL = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


def _terms(text: str) -> list[str]:
    out, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += ch
    return [*out, current]


def reference_matches(text: str, labels: dict[str, str]) -> bool:
    """The grammar, evaluated term by term (raises ValueError for a term it cannot read)."""
    if not text.strip():
        return True
    for term in _terms(text):
        if m := re.fullmatch(rf"\s*!\s*({_KEY})\s*", term):
            ok = m[1] not in labels
        elif m := re.fullmatch(rf"\s*({_KEY})\s*", term):
            ok = m[1] in labels
        elif m := re.fullmatch(rf"\s*({_KEY})\s*(==|=|!=)\s*({_VAL})\s*", term):
            key, op, value = m[1], m[2], m[3]
            ok = (labels.get(key) == value) if op != "!=" else labels.get(key) != value
        elif m := re.fullmatch(rf"\s*({_KEY})\s+(in|notin)\s*\(([^()]*)\)\s*", term):
            key, op = m[1], m[2]
            values = {v.strip() for v in m[3].split(",")}
            inside = key in labels and labels[key] in values
            ok = inside if op == "in" else not inside
        elif m := re.fullmatch(rf"\s*({_KEY})\s*([<>])\s*(-?\d+)\s*", term):
            have = labels.get(m[1], "")
            if not re.fullmatch(r"-?\d+", have):
                ok = False
            else:
                ok = int(have) > int(m[3]) if m[2] == ">" else int(have) < int(m[3])
        else:
            raise ValueError(term)
        if not ok:
            return False
    return True


KEYS = st.sampled_from(["app", "tier", "env", "example.com/team", "a_b.c"])
VALUES = st.sampled_from(["web", "api", "", "v1.2", "3", "10", "x-2"])
SPACE = st.sampled_from(["", " ", "  "])


@st.composite
def requirement_text(draw: st.DrawFn) -> str:
    key, s1, s2 = draw(KEYS), draw(SPACE), draw(SPACE)
    form = draw(st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!", ">", "<"]))
    if form == "exists":
        return f"{s1}{key}{s2}"
    if form == "!":
        return f"{s1}!{s2}{key}"
    if form in ("in", "notin"):
        values = draw(st.lists(VALUES.filter(bool), min_size=1, max_size=3))
        return f"{s1}{key} {form}{s2}({','.join(values)}){s2}"
    if form in (">", "<"):
        return f"{key}{s1}{form}{s2}{draw(st.sampled_from(['3', '10', '0']))}"
    return f"{s1}{key}{s2}{form}{s2}{draw(VALUES)}"


SELECTORS = st.lists(requirement_text(), min_size=1, max_size=4).map(",".join)
LABELS = st.dictionaries(KEYS, VALUES, max_size=5)


@given(SELECTORS, LABELS)
def test_selector_matches_like_the_reference(text: str, labels: dict[str, str]) -> None:
    """Every well-formed selector picks exactly the label sets the reference grammar picks."""
    assert L.parse(text).matches(labels) == reference_matches(text, labels)


@given(SELECTORS, LABELS)
def test_printed_selector_means_the_same(text: str, labels: dict[str, str]) -> None:
    """A parsed selector printed back (kubectl's canonical form) parses to the same meaning."""
    selector = L.parse(text)
    assert L.parse(str(selector)).matches(labels) == selector.matches(labels)


@given(LABELS, LABELS)
def test_match_labels_and_expressions_agree_with_the_string(
    match: dict[str, str], labels: dict[str, str]
) -> None:
    """`matchLabels` means the same as the equality selector written out as a string."""
    as_text = ",".join(f"{k}={v}" for k, v in match.items())
    assert L.from_dict({"matchLabels": match}).matches(labels) == L.parse(as_text).matches(labels)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        pytest.param("app!=hello", {"app": "web"}, True, id="not equals another value"),
        pytest.param("app!=hello", {}, True, id="not equals matches a missing key"),
        pytest.param("app in (hello,web)", {"app": "api"}, False, id="in excludes others"),
        pytest.param("!app", {"app": "web"}, False, id="does not exist"),
        pytest.param("app notin (web)", {}, True, id="notin matches a missing key"),
        pytest.param("app,tier=db", {"app": "x", "tier": "db"}, True, id="comma is and"),
        pytest.param("app=", {"app": ""}, True, id="empty value"),
    ],
)
def test_named_cases(text: str, labels: dict[str, str], expected: bool) -> None:
    """The cases of issue #17 that the old `k=v` splitter got wrong."""
    assert L.parse(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("app in hello", "unable to parse requirement: found 'hello' expected: '('"),
        ("app in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
        (
            "app web",
            "unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt",
        ),
        ("app=web,", "found '', expected: identifier after ','"),
        ("=web", "found '=', expected: !, identifier, or 'end of string'"),
        ("!app=web", "found '=', expected: ',' or 'end of string'"),
        ("app=a b", "found 'b', expected: ',' or 'end of string'"),
        (
            "tier>x",
            "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        ("app=a/b", 'unable to parse requirement: invalid label value: "a/b": at key: "app"'),
    ],
)
def test_bad_selectors_get_kubectls_words(text: str, message: str) -> None:
    """A selector kubectl refuses is refused here with the text apimachinery's parser gives."""
    with pytest.raises(L.SelectorError) as raised:
        L.parse(text)
    assert str(raised.value).startswith(message)


def test_service_selector_of_nothing_selects_no_pod() -> None:
    """A Service without a selector selects no pod; an empty `-l` selects every pod."""
    assert not L.from_map({}, empty_matches=False).matches({"app": "web"})
    assert L.parse("").matches({"app": "web"})


def test_match_expressions() -> None:
    """matchExpressions In/NotIn/Exists/DoesNotExist AND matchLabels, as LabelSelectorAsSelector."""
    selector = L.from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }
    )
    assert selector.matches({"app": "web", "tier": "fe"})
    assert not selector.matches({"app": "web", "tier": "fe", "canary": "1"})
    assert not selector.matches({"app": "web", "tier": "db"})
    assert str(selector) == "app=web,!canary,tier in (be,fe)"  # sorted by key


TOKENS = st.sampled_from(
    [
        "app",
        "web",
        "=",
        "==",
        "!=",
        "!",
        "in",
        "notin",
        "(",
        ")",
        ",",
        " ",
        ">",
        "<",
        "3",
        "a/b",
        "-",
        "_x",
    ]
)


@given(st.lists(TOKENS, max_size=12).map("".join), LABELS)
def test_any_text_parses_or_is_refused_with_a_selector_error(
    text: str, labels: dict[str, str]
) -> None:
    """Whatever is typed after -l, the parser answers a selector or a SelectorError, and a
    selector it accepts means what the reference grammar says it means."""
    try:
        selector = L.parse(text)
    except L.SelectorError:
        return
    try:
        expected = reference_matches(text, labels)
    except ValueError:
        return  # the reference reads fewer spellings (e.g. "a in(b)" without a space)
    assert selector.matches(labels) == expected
