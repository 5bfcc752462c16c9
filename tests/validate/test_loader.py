"""The manifest loader: positions, multi-document files, directories and hostile input."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifests.load import MAX_FILE_BYTES, load_paths, load_text


def rules(result: Any) -> list[str]:
    return [p.rule for p in result.problems]


def test_positions_point_at_keys_and_items() -> None:
    """position() gives the 1-based line and column of a key or a list item."""
    doc = load_text("a: 1\nspec:\n  list:\n    - x\n    - name: y\n", source="f").documents[0]
    assert doc.position(["spec", "list"]) == (3, 3)
    assert doc.position(["spec", "list", 1, "name"]) == (5, 7)
    assert doc.position(["spec", "missing", "deeper"]) == (2, 1)


def test_positions_after_nodes_are_dropped() -> None:
    """A document without its node tree finds the same positions by parsing its own text again."""
    text = "a: 1\n---\n# c\nb:\n  c: [1, 2]\n"
    doc = load_text(text, source="f").documents[1]
    slim = doc.without_nodes()
    assert slim.position(["b", "c", 1]) == doc.position(["b", "c", 1]) == (5, 10)


def test_multi_document_file_keeps_index_line_and_digest() -> None:
    """Every document records its index, first line and the file's sha256."""
    result = load_text("a: 1\n---\nb: 2\n---\n---\nc: 3\n", source="f")
    assert [(d.index, d.line, d.obj) for d in result.documents] == [
        (0, 1, {"a": 1}),
        (1, 3, {"b": 2}),
        (3, 6, {"c": 3}),
    ]
    assert len({d.file_sha256 for d in result.documents}) == 1


def test_duplicate_keys_are_errors_at_the_second_key() -> None:
    """PyYAML keeps the last of two keys silently; the loader reports it."""
    result = load_text("spec:\n  replicas: 1\n  replicas: 2\n", source="f")
    (problem,) = result.problems
    assert (problem.rule, problem.line, problem.column) == ("duplicate-key", 3, 3)
    assert "first at line 2" in problem.message
    assert result.documents[0].load_problems == (problem,)
    assert not result.unreadable


def test_alias_bomb_fails_fast() -> None:
    """A billion-laughs document is refused quickly with a clear error."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    started = time.monotonic()
    result = load_text("\n".join(lines) + "\n", source="bomb.yaml")
    assert time.monotonic() - started < 1.0
    assert rules(result) == ["alias-limit"]
    assert "billion laughs" in result.problems[0].message
    assert result.unreadable == {"bomb.yaml"}


def test_recursive_alias_is_refused() -> None:
    """An alias to its own ancestor does not loop forever."""
    result = load_text("a: &a [*a]\n", source="f")
    assert rules(result) in (["alias-limit"], ["depth-limit"])


def test_small_aliases_are_fine() -> None:
    """Ordinary anchors and merge keys expand as Kubernetes tools expand them."""
    result = load_text("base: &b {x: 1, y: 2}\nobj:\n  <<: *b\n  y: 3\n", source="f")
    assert result.problems == []
    assert result.documents[0].obj["obj"] == {"x": 1, "y": 3}


def test_deep_nesting_is_refused() -> None:
    """Nesting beyond the bound is an error, not a RecursionError."""
    result = load_text("a: " + "[" * 200 + "]" * 200 + "\n", source="f")
    assert rules(result) == ["depth-limit"]


def test_huge_file_is_refused_before_parsing(write: Any) -> None:
    """A file over the size limit fails fast, naming the limit."""
    path = write("huge.yaml", b"#" * (MAX_FILE_BYTES + 1))
    started = time.monotonic()
    result = load_paths([path])
    assert time.monotonic() - started < 1.0
    assert rules(result) == ["size-limit"]
    assert result.unreadable == {path}


def test_non_utf8_bytes_point_at_the_byte() -> None:
    """Bytes that are not UTF-8 give their line and column."""
    result = load_text(b"a: 1\nb: caf\xe9\n", source="f")
    (problem,) = result.problems
    assert (problem.rule, problem.line, problem.column) == ("encoding", 2, 7)
    assert result.unreadable == {"f"}


def test_tabs_get_a_hint() -> None:
    """A tab used for indentation is explained, not just reported as a token error."""
    result = load_text("a:\n\tb: 1\n", source="f")
    (problem,) = result.problems
    assert problem.rule == "tab"
    assert "use spaces" in problem.message


def test_syntax_error_makes_the_file_unreadable_keeping_earlier_documents() -> None:
    """Documents before a syntax error are returned; the file is marked unreadable."""
    result = load_text("a: 1\n---\nb: [1\n", source="f")
    assert [d.obj for d in result.documents] == [{"a": 1}]
    assert rules(result) == ["yaml"]
    assert result.unreadable == {"f"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "a: b: c\n",
            "YAML syntax error: mapping values are not allowed in this context",
            id="no context",
        ),
        pytest.param(
            "a: [1\n",
            "YAML syntax error: while parsing a flow sequence: did not find expected ',' or ']'",
            id="with context",
        ),
    ],
)
def test_syntax_error_message_has_one_colon_after_its_title(text: str, message: str) -> None:
    """`YAML syntax error: ...`, with or without the parser's context, never `error::`."""
    (problem,) = load_text(text, source="f").problems
    assert problem.message == message


@pytest.mark.parametrize(
    ("text", "found"),
    [
        pytest.param("", [], id="empty file"),
        pytest.param("# only a comment\n", [], id="comment only"),
        pytest.param("---\n---\n", [], id="empty documents"),
        pytest.param("null\n", [], id="null document"),
    ],
)
def test_empty_documents_are_skipped(text: str, found: list[Any]) -> None:
    """Empty documents are skipped silently, as kubectl skips them."""
    result = load_text(text, source="f")
    assert result.documents == found
    assert result.problems == []


@pytest.mark.parametrize(
    "text", [pytest.param("- a\n- b\n", id="list"), pytest.param("just text\n", id="scalar")]
)
def test_non_mapping_documents_are_errors(text: str) -> None:
    """A document that is not a mapping cannot be a manifest."""
    result = load_text(text, source="f")
    assert rules(result) == ["not-a-mapping"]
    assert result.documents == []


def test_keys_become_strings_and_custom_tags_are_refused() -> None:
    """Non-string keys convert as sigs.k8s.io/yaml does; unknown tags are errors."""
    assert load_text("1: a\ntrue: b\n", source="f").documents[0].obj == {"1": "a", "true": "b"}
    assert rules(load_text("a: !secret x\n", source="f")) == ["yaml"]


def test_directories_recurse_in_sorted_order(tmp_path: Path) -> None:
    """A directory contributes its *.yaml and *.yml files, recursively, sorted."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.yml").write_text("b: 2\n")
    (tmp_path / "a.yaml").write_text("a: 1\n")
    (tmp_path / "notes.txt").write_text("x: 3\n")
    result = load_paths([tmp_path])
    assert [Path(f).name for f in result.files] == ["a.yaml", "two.yml"]
    assert [d.obj for d in result.documents] == [{"a": 1}, {"b": 2}]


def test_stdin_and_missing_paths() -> None:
    """``-`` reads stdin as <stdin>; a missing path is an unreadable file."""
    result = load_paths(["-", "/nonexistent/x.yaml"], stdin=io.StringIO("a: 1\n"))
    assert result.files == ["<stdin>", "/nonexistent/x.yaml"]
    assert result.documents[0].source == "<stdin>"
    assert rules(result) == ["read"]
    assert result.unreadable == {"/nonexistent/x.yaml"}
