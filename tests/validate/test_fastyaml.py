"""The fast loader reads a file exactly as the careful one, or leaves it to the careful one."""

from __future__ import annotations

import pytest
from validate_factory import deployment, dump, service

from reconciler.manifests.fastyaml import load_fast
from reconciler.manifests.load import load_text

SAME = [
    dump(deployment(), service()),
    "# comment\n---\n" + dump(deployment()) + "---\n---\n" + dump(service()),
    "a: 'yes'\nb: \"0755\"\nc: v1.2.3\nd: 25%\ne: 1.5\nf: -3\ng: ~\nh: 2020-01-01\n",
]
DOUBTFUL = [
    "a: yes\n",
    "a: on\n",
    "a: 0755\n",
    "a: 1e3\n",
    "a: 10:30\n",
    "a: 1_000\n",
    "80: http\n",
    "true: x\n",
    "a: &x 1\nb: *x\n",
    "<<: {a: 1}\n",
    "a: !!binary aGk=\n",
    "a: 1\na: 2\n",
    "a:\n\tb: 1\n",
    "a: [1\n",
    "- 1\n- 2\n",
    "--- {a: 1}\n",
    "a: 1\n...\n",
    "a: " + "9" * 5000 + "\n",
]


@pytest.mark.parametrize("text", SAME)
def test_fast_documents_equal_the_careful_loaders(text: str) -> None:
    """Same objects, lines and positions as the careful loader."""
    fast = load_fast(text.encode(), source="x.yaml")
    careful = load_text(text, source="x.yaml")
    assert fast is not None
    assert [d.obj for d in fast.documents] == [d.obj for d in careful.documents]
    assert [d.line for d in fast.documents] == [d.line for d in careful.documents]
    assert [d.index for d in fast.documents] == [d.index for d in careful.documents]
    for quick, slow in zip(fast.documents, careful.documents, strict=True):
        for path in (["metadata", "name"], ["spec"], ["kind"], ["apiVersion"]):
            assert quick.position(path) == slow.position(path)
    assert fast.problems == careful.problems == []


@pytest.mark.parametrize("text", DOUBTFUL)
def test_what_a_yaml_1_2_parser_reads_otherwise_goes_to_the_careful_loader(text: str) -> None:
    """YAML 1.1 scalars, non-string keys, aliases, tags, duplicates, tabs, syntax errors."""
    assert load_fast(text.encode(), source="x.yaml") is None


def test_one_doubtful_document_of_many_is_read_carefully_alone() -> None:
    """A duplicate key in the middle document: same problems and documents as the careful path."""
    middle = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports: []\n  ports: []\n"
    text = dump(deployment()) + "---\n" + middle + "---\n" + "a: yes\n" + "---\n" + dump(service())
    fast = load_fast(text.encode(), source="x.yaml")
    careful = load_text(text, source="x.yaml")
    assert fast is not None and careful.problems
    assert fast.problems == careful.problems
    assert [(d.obj, d.line, d.index) for d in fast.documents] == [
        (d.obj, d.line, d.index) for d in careful.documents
    ]
    assert [d.load_problems for d in fast.documents] == [d.load_problems for d in careful.documents]
    for quick, slow in zip(fast.documents, careful.documents, strict=True):
        assert quick.position(["spec"]) == slow.position(["spec"])
        assert quick.file_sha256 == slow.file_sha256
