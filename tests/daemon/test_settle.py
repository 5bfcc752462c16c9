"""The folder sync never deletes what vanished from a file that is still being written."""

from __future__ import annotations

from pathlib import Path

from reconciler.folder.sync import Change, FolderSync
from reconciler.objects import Kind, ObjectRef
from reconciler.store import Store
from tests.e2e.harness import deployment_yaml

SERVICE = """---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 18181, targetPort: http}]
"""
WEB = ObjectRef(Kind.SERVICE, "default", "web")


def test_a_shrunk_file_that_is_still_changing_keeps_its_objects(
    tmp_path: Path, state_dir: Path
) -> None:
    """Written in place a moment ago: the Service missing from it is held (`settling`), not
    deleted; once the file has settled, the same sync deletes it."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    path = folder / "web.yaml"
    path.write_text(deployment_yaml("web") + SERVICE)
    with Store.open(state_dir) as store:
        sync = FolderSync(store, folder)
        assert sync.sync(now=1.0).changes[WEB] is Change.CREATED
        path.write_text(deployment_yaml("web"))  # the first half of a two-part write
        held = sync.sync(now=2.0, unsettled={path})
        assert held.changes == {} and held.settling == (WEB,)
        assert store.get_object(WEB) is not None
        settled = sync.sync(now=3.0)
        assert settled.changes == {WEB: Change.DELETED} and settled.settling == ()
