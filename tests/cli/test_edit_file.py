"""The comment-preserving editor: only the edited lines of a file change."""

from __future__ import annotations

import difflib
import os
import stat
from pathlib import Path

import pytest
from ruamel.yaml.comments import CommentedMap

from reconciler.folder.edit import (
    atomic_write,
    document_text,
    find_object,
    remove_object,
    replace_object,
    update_object,
    write_new,
)
from reconciler.objects import Kind, ObjectRef

WEB = ObjectRef(Kind.DEPLOYMENT, "default", "web")
SVC = ObjectRef(Kind.SERVICE, "default", "web")

FIXTURE = """\
# the web tier: keep this header
---
# web app
apiVersion: apps/v1   # trailing comment
kind: Deployment
metadata:
   name: web
   labels: {app: web,  tier: "front"}
spec:
   replicas: 3    # three


   selector:
      matchLabels: {app: web}
   template:
      metadata:
         labels: {app: web}
      spec:
         containers:
            -  name: web
               image: 'demo:1'   # the image
               command: ["python3", "-m", "reconciler.demoapp"]
# end of the deployment
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
  - port: 8080   # public
    targetPort: 8080
"""


def changed_lines(before: str, after: str) -> list[str]:
    """The +/- lines of a diff, without the headers."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder holding the fixture manifest."""
    path = tmp_path / "manifests"
    path.mkdir()
    (path / "web.yaml").write_text(FIXTURE)
    return path


def test_find_object_numbers_documents_after_a_comment_header(folder: Path) -> None:
    """A leading comment block is not a document: the deployment is document 0."""
    assert find_object(folder, WEB) == find_object(folder, WEB)
    located = find_object(folder, WEB)
    assert located is not None and located.index == 0
    svc = find_object(folder, SVC)
    assert svc is not None and svc.index == 1


def test_find_object_skips_hidden_and_temp_files(folder: Path) -> None:
    """Editor swap files and hidden files are never taken for manifests."""
    (folder / "web.yaml").unlink()
    (folder / ".web.yaml").write_text(FIXTURE)
    (folder / "web.yaml~").write_text(FIXTURE)
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "web.yaml").write_text(FIXTURE)
    assert find_object(folder, WEB) is None


def test_update_changes_only_the_edited_lines(folder: Path) -> None:
    """Comments, odd indentation, flow maps, quotes and other documents stay byte for byte."""
    located = find_object(folder, WEB)
    assert located is not None

    def mutate(doc: CommentedMap) -> None:
        doc["spec"]["template"]["spec"]["containers"][0]["image"] = "demo:2"
        doc["spec"]["replicas"] = 5

    assert update_object(located, mutate) is True
    after = (folder / "web.yaml").read_text()
    assert changed_lines(FIXTURE, after) == [
        "-   replicas: 3    # three",
        "+   replicas: 5    # three",
        "-               image: 'demo:1'   # the image",
        "+               image: 'demo:2'   # the image",
    ]


def test_added_key_goes_inside_the_document_with_its_indentation(folder: Path) -> None:
    """A new key lands in its mapping at the file's indentation, before the end comment."""
    located = find_object(folder, WEB)
    assert located is not None
    assert update_object(located, lambda doc: doc["spec"].__setitem__("paused", True))
    after = (folder / "web.yaml").read_text()
    assert changed_lines(FIXTURE, after) == ["+   paused: true"]
    assert after.index("   paused: true") < after.index("# end of the deployment")


def test_no_op_update_leaves_the_file_alone(folder: Path) -> None:
    """A mutation that changes nothing writes nothing and reports False."""
    located = find_object(folder, WEB)
    assert located is not None
    before = os.stat(folder / "web.yaml").st_mtime_ns
    assert update_object(located, lambda doc: doc["spec"].__setitem__("replicas", 3)) is False
    assert os.stat(folder / "web.yaml").st_mtime_ns == before


def test_update_keeps_the_file_mode_and_leaves_no_temp_file(folder: Path) -> None:
    """The atomic write keeps the mode and cleans up its hidden temporary file."""
    path = folder / "web.yaml"
    path.chmod(0o600)
    located = find_object(folder, WEB)
    assert located is not None
    update_object(located, lambda doc: doc["spec"].__setitem__("replicas", 1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["web.yaml"]


def test_second_document_edit_keeps_the_first_byte_for_byte(folder: Path) -> None:
    """Editing the Service leaves the Deployment document untouched."""
    located = find_object(folder, SVC)
    assert located is not None
    update_object(located, lambda doc: doc["spec"]["ports"][0].__setitem__("port", 9090))
    after = (folder / "web.yaml").read_text()
    assert changed_lines(FIXTURE, after) == [
        "-  - port: 8080   # public",
        "+  - port: 9090   # public",
    ]


def test_replace_object_keeps_comments_on_surviving_fields(folder: Path) -> None:
    """Replacing a document with a new object changes only the fields that differ."""
    located = find_object(folder, SVC)
    assert located is not None
    new = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": 9000}]},
    }
    assert replace_object(located, new) is True
    after = (folder / "web.yaml").read_text()
    assert changed_lines(FIXTURE, after) == ["-    targetPort: 8080", "+    targetPort: 9000"]
    assert replace_object(located, new) is False


def test_remove_one_document_of_several(folder: Path) -> None:
    """Removing the Service drops its document only; the header and deployment stay."""
    located = find_object(folder, SVC)
    assert located is not None
    remove_object(located)
    after = (folder / "web.yaml").read_text()
    assert after == FIXTURE[: FIXTURE.index("---\napiVersion: v1")]


def test_remove_the_only_document_removes_the_file(folder: Path) -> None:
    """A file left with comments only is deleted."""
    for ref in (SVC, WEB):
        located = find_object(folder, ref)
        assert located is not None
        remove_object(located)
    assert not (folder / "web.yaml").exists()


def test_document_text_is_verbatim(folder: Path) -> None:
    """The edit buffer is the document as written, comments included, without its ---."""
    located = find_object(folder, WEB)
    assert located is not None
    text = document_text(located)
    assert text.startswith("# web app\napiVersion: apps/v1   # trailing comment\n")
    assert text.endswith("# end of the deployment\n")


def test_write_new_refuses_to_overwrite(tmp_path: Path) -> None:
    """write_new never replaces an existing file."""
    doc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}
    path = write_new(tmp_path, "a.yaml", doc)
    assert path.read_text().startswith("apiVersion: v1\nkind: Service\n")
    with pytest.raises(FileExistsError):
        write_new(tmp_path, "a.yaml", doc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml"]


def test_atomic_write_replaces_content(tmp_path: Path) -> None:
    """atomic_write gives the new bytes and no leftovers."""
    path = tmp_path / "x.yaml"
    path.write_bytes(b"old\n")
    atomic_write(path, b"new\n")
    assert path.read_bytes() == b"new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.yaml"]


def test_dash_at_parent_indentation_is_kept(tmp_path: Path) -> None:
    """kubectl's layout (sequence dashes at the parent's column) survives an added container."""
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
        "  template:\n    spec:\n      containers:\n      - name: web\n        image: a\n"
    )
    (tmp_path / "web.yaml").write_text(text)
    located = find_object(tmp_path, WEB)
    assert located is not None

    def add(doc: CommentedMap) -> None:
        doc["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "b"})

    update_object(located, add)
    assert (tmp_path / "web.yaml").read_text() == text + "      - name: side\n        image: b\n"


def test_crlf_files_stay_crlf(tmp_path: Path) -> None:
    """A file with Windows line endings keeps them."""
    text = (
        "apiVersion: apps/v1\r\nkind: Deployment\r\nmetadata:\r\n  name: web\r\n"
        "spec:\r\n  replicas: 1\r\n"
    )
    (tmp_path / "web.yaml").write_bytes(text.encode())
    located = find_object(tmp_path, WEB)
    assert located is not None
    update_object(located, lambda doc: doc["spec"].__setitem__("replicas", 2))
    assert (tmp_path / "web.yaml").read_bytes() == text.replace(
        "replicas: 1", "replicas: 2"
    ).encode()
