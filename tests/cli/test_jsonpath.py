"""kubectl's JSONPath dialect: the cases of client-go's own tests, and its error texts.

The cases and expected outputs are those of ``k8s.io/client-go/util/jsonpath/jsonpath_test.go``
(``TestTypesInput``, ``TestStructInput``'s JSON-expressible cases, ``TestJSONInput``,
``TestKubernetes``), run on the same input decoded from JSON (as kubectl decodes objects).
"""

from __future__ import annotations

import json

import pytest

from reconciler.cli.jsonpath import JSONPathError, relaxed, render

TYPES = {
    "bools": [True, False, True, False],
    "integers": [1, 2, 3, 4],
    "floats": [1.0, 2.2, 3.3, 4.0],
    "strings": ["one", "two", "three", "four"],
    "interfaces": [True, "one", 1, 1.1],
    "maps": [
        {"name": "one", "value": 1},
        {"name": "two", "value": 2.02},
        {"name": "three", "value": 3.03},
        {"name": "four", "value": 4.04},
    ],
}

NODES = json.loads(
    """{
  "kind": "List",
  "items": [
    {"kind": "None",
     "metadata": {"name": "127.0.0.1", "labels": {"kubernetes.io/hostname": "127.0.0.1"}},
     "status": {"capacity": {"cpu": "4"}, "ready": true,
                "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.1"}]}},
    {"kind": "None",
     "metadata": {"name": "127.0.0.2", "labels": {"kubernetes.io/hostname": "127.0.0.2"}},
     "status": {"capacity": {"cpu": "8"}, "ready": false,
                "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.2"},
                              {"type": "another", "address": "127.0.0.3"}]}}
  ],
  "users": [{"name": "myself", "user": {}},
            {"name": "e2e", "user": {"username": "admin", "password": "secret"}}]
}"""
)

POINTS = [
    {"id": "i1", "x": 4, "y": -5},
    {"id": "i2", "x": -2, "y": -5, "z": 1},
    {"id": "i3", "x": 8, "y": 3},
    {"id": "i4", "x": -6, "y": -1},
    {"id": "i5", "x": 0, "y": 2, "z": 1},
    {"id": "i6", "x": 1, "y": 4},
]

CASES = [
    ("{ .bools }", TYPES, "[true,false,true,false]"),
    ("{ .bools[-1] }", TYPES, "false"),
    ("{ .bools[0:2] }", TYPES, "true false"),
    ("{ .bools[:4:2] }", TYPES, "true true"),
    ("{ .integers[-2] }", TYPES, "3"),
    ("{ .integers[:4:2] }", TYPES, "1 3"),
    ("{ .floats }", TYPES, "[1,2.2,3.3,4]"),
    ("{ .floats[-2] }", TYPES, "3.3"),
    ("{ .strings }", TYPES, '["one","two","three","four"]'),
    ("{ .interfaces }", TYPES, '[true,"one",1,1.1]'),
    ("{ .interfaces[:4:2] }", TYPES, "true 1"),
    ("{ .maps[0] }", TYPES, '{"name":"one","value":1}'),
    ("{ .maps[1::2] }", TYPES, '{"name":"two","value":2.02} {"name":"four","value":4.04}'),
    ("hello jsonpath", None, "hello jsonpath"),
    ("{..}", [1, 2, 3], "[1,2,3]"),
    ("{[?(@<5)]}", [2, 6, 3, 7], "2 3"),
    ('{"{"}', None, "{"),
    ("{[1,3,4]}", [0, 1, 2, 3, 4], "1 3 4"),
    ("{[0:2]}", ["Monday", "Tudesday"], "Monday Tudesday"),
    ("{[?(@.z)].id}", POINTS, "i2 i5"),
    ("{[0]['id']}", POINTS, "i1"),
    ("{range .items[*]}{.metadata.name}, {end}{.kind}", NODES, "127.0.0.1, 127.0.0.2, List"),
    ('{range .items[*]}{.metadata.name}{"\\t"}{end}', NODES, "127.0.0.1\t127.0.0.2\t"),
    ("{.items[*].status.addresses[*].address}", NODES, "127.0.0.1 127.0.0.2 127.0.0.3"),
    (
        "{range .items[*]}{range .status.addresses[*]}{.address}, {end}{end}",
        NODES,
        "127.0.0.1, 127.0.0.2, 127.0.0.3, ",
    ),
    (
        "{.items[*]['metadata.name', 'status.capacity']}",
        NODES,
        '127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}',
    ),
    (
        "{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}",
        NODES,
        '[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] ',
    ),
    ('{.users[?(@.name=="e2e")].user.password}', NODES, "secret"),
    ("{.items[0].metadata.labels.kubernetes\\.io/hostname}", NODES, "127.0.0.1"),
    (
        '{.items[?(@.metadata.labels.kubernetes\\.io/hostname=="127.0.0.1")].kind}',
        NODES,
        "None",
    ),
    ("{.items[?(@..ready==true)].metadata.name}", NODES, "127.0.0.1"),
    ("{.hello}", NODES, ""),  # kubectl allows missing keys
    ("before-{.hello}after", NODES, "before-after"),
    ("{range .items[*]}{.metadata.name}{end}", {"items": []}, ""),
    ("{.items[?(@.metadata.name=~'^127.*2$')].kind}", NODES, "None"),
]


@pytest.mark.parametrize(("template", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_client_go_cases(template: str, data: object, expected: str) -> None:
    """Each template prints exactly what client-go's test expects."""
    assert render(template, data) == expected


def test_recursive_name_prints_every_name() -> None:
    """`{..name}` finds names at every depth (client-go sorts the words: map order is random)."""
    assert sorted(render("{..name}", NODES).split()) == ["127.0.0.1", "127.0.0.2", "e2e", "myself"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{hello}", "unrecognized identifier hello"),
        ("{.items[5]}", "array index out of bounds: index 5, length 2"),
        ("{.users[?(@.name<>1)]}", "unrecognized filter operator <>"),
        ("{range .items[*]}{@}{end}{end}", "not in range, nothing to end"),
        ("{.kind[0]}", "string is not array or slice"),
        ("{.items[?(@.kind==1)]}", "incompatible types for comparison"),
        ("{.items[", "unterminated array"),
        ("{.kind", "unclosed action"),
        ("{............Price}", "invalid multiple recursive descent"),
    ],
)
def test_errors_have_client_gos_words(template: str, message: str) -> None:
    """A template client-go refuses fails here with client-go's message."""
    with pytest.raises(JSONPathError, match="^" + message.replace("[", r"\[")):
        render(template, NODES)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("metadata.name", "{.metadata.name}"), (".a.b", "{.a.b}"), ("{a.b}", "{.a.b}")],
)
def test_relaxed_expression(given: str, expected: str) -> None:
    """--sort-by and custom-columns accept kubectl's relaxed spellings of a path."""
    assert relaxed(given) == expected
