"""``describe``'s Limits/Requests, Mounts, Volumes and host warnings, in kubectl's words."""

from __future__ import annotations

from pathlib import Path

from reconciler.cli.describe import tabwrite
from reconciler.cli.volumes_view import host_warnings, mount_lines, pod_volumes, resource_lines
from reconciler.runtime.isolation import capabilities
from reconciler.runtime.isolation.capabilities import Capabilities

POD = {
    "volumes": [
        {"name": "config", "configMap": {"name": "app-config"}},
        {"name": "creds", "secret": {"secretName": "db", "optional": True}},
        {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {"name": "logs", "hostPath": {"path": "/var/log/app", "type": "DirectoryOrCreate"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "app-data"}},
    ]
}


def test_volumes_print_as_kubectls_describe_volumes() -> None:
    """One block per source with kubectl's type descriptions and fields."""
    assert tabwrite(pod_volumes(POD)) == (
        "Volumes:\n"
        "  config:\n"
        "    Type:      ConfigMap (a volume populated by a ConfigMap)\n"
        "    Name:      app-config\n"
        "    Optional:  false\n"
        "  creds:\n"
        "    Type:        Secret (a volume populated by a Secret)\n"
        "    SecretName:  db\n"
        "    Optional:    true\n"
        "  scratch:\n"
        "    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)\n"
        "    Medium:     Memory\n"
        "    SizeLimit:  64Mi\n"
        "  logs:\n"
        "    Type:          HostPath (bare host directory volume)\n"
        "    Path:          /var/log/app\n"
        "    HostPathType:  DirectoryOrCreate\n"
        "  data:\n"
        "    Type:       PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the "
        "same namespace)\n"
        "    ClaimName:  app-data\n"
        "    ReadOnly:   false\n"
    )
    assert pod_volumes({}) == "Volumes:\t<none>\n"


def test_requests_default_to_limits_and_mounts_show_ro_rw() -> None:
    """Limits sorted; Requests fill in from limits; mounts sorted by path with (ro|rw,path=)."""
    container = {
        "resources": {"limits": {"memory": "50Mi", "cpu": "1"}, "requests": {"cpu": "250m"}},
        "volumeMounts": [
            {"name": "scratch", "mountPath": "/tmp/s", "subPath": "a"},
            {"name": "config", "mountPath": "/etc/config", "readOnly": True},
        ],
    }
    assert tabwrite(resource_lines(container) + mount_lines(container)) == (
        "    Limits:\n"
        "      cpu:     1\n"
        "      memory:  50Mi\n"
        "    Requests:\n"
        "      cpu:     250m\n"
        "      memory:  50Mi\n"
        "    Mounts:\n"
        "      /etc/config from config (ro)\n"
        '      /tmp/s from scratch (rw,path="a")\n'
    )
    assert resource_lines({}) == ""
    assert mount_lines({}) == "    Mounts:\t<none>\n"


def test_warnings_name_what_the_daemons_host_could_not_enforce(state_dir: Path) -> None:
    """Nothing before a daemon ran; after one on a host without cgroups: the limits warning."""
    template = {
        "spec": {"containers": [{"name": "a", "resources": {"limits": {"memory": "50Mi"}}}]}
    }
    assert host_warnings(template, state_dir) == ""
    capabilities.save(
        state_dir,
        Capabilities(None, "no cgroup v1 memory controller mounted", mount_namespace=True),
    )
    assert host_warnings(template, state_dir) == (
        "Warnings:\n  resources.limits are not enforced on this host: no cgroup v1 memory "
        "controller mounted\n"
    )
