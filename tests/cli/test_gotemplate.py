"""`-o go-template`: the text/template subset kubectl users write, with Go's printing rules.

Expected outputs follow Go's text/template documentation (pkg.go.dev/text/template: actions,
trim markers, range/else, with, variables, comparison functions) and fmt's ``%v`` for decoded
JSON (``map[k:v]``, ``[a b]``, ``<no value>`` for a missing map key).
"""

from __future__ import annotations

import pytest

from reconciler.cli.gotemplate import TemplateError, render

DATA = {
    "kind": "List",
    "items": [
        {"metadata": {"name": "a", "labels": {"app": "web"}}, "spec": {"replicas": 3}},
        {"metadata": {"name": "b"}, "spec": {"replicas": 0}},
    ],
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{range .items}}{{.metadata.name}}{{"\\n"}}{{end}}', "a\nb\n"),
        ("{{range $i, $e := .items}}{{$i}}:{{$e.metadata.name}} {{end}}", "0:a 1:b "),
        ("{{len .items}}", "2"),
        ('{{index .items 0 "metadata" "name"}}', "a"),
        ("{{(index .items 0).metadata.labels}}", "map[app:web]"),
        ("{{range .items}}{{.metadata.labels.app}},{{end}}", "web,<no value>,"),
        ('{{range .items}}{{index .metadata "labels"}};{{end}}', "map[app:web];<nil>;"),
        (
            '{{range .items}}{{if eq .metadata.name "a"}}A{{else if gt .spec.replicas 0}}'
            "P{{else}}Z{{end}}{{end}}",
            "AZ",
        ),
        ("{{range .nope}}x{{else}}empty{{end}}", "empty"),
        ("{{with .items}}{{len .}}{{end}}", "2"),
        ("{{- range .items }} {{ .metadata.name -}} {{ end }}!", " a b!"),
        ('{{printf "%s=%d" "x" 3}}', "x=3"),
        ("{{$n := len .items}}{{$n}}", "2"),
        ('{{exists . "kind"}} {{exists . "nope"}}', "true false"),
        ('{{not (eq .kind "List")}} {{and 1 0}} {{or 0 "y"}}', "false 0 y"),
        ('{{eq .kind "Pod" "List"}}', "true"),
        ('{{"aGVsbG8=" | base64decode}}', "hello"),
        ("{{/* a comment */}}ok", "ok"),
        ("{{`raw\\n`}}", "raw\\n"),
    ],
)
def test_templates(template: str, expected: str) -> None:
    """Each template prints what Go's text/template prints for the same data."""
    assert render(template, DATA) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{.kind", "unclosed action"),
        ("{{end}}", "unexpected {{end}}"),
        ("{{range .items}}", "unexpected EOF"),
        ("{{nope .kind}}", 'function "nope" not defined'),
        ("{{eq .kind 1}}", "error calling eq: incompatible types for comparison"),
        ("{{index .items 5}}", "error calling index: index out of range: 5"),
    ],
)
def test_errors(template: str, message: str) -> None:
    """A template Go refuses (to parse or to run) fails with Go's words."""
    with pytest.raises(TemplateError) as raised:
        render(template, DATA)
    assert str(raised.value) == message
