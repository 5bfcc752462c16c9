"""Real podman, real images built here from Debian's busybox-static, a real local registry.

Images: a rootfs of one static ``busybox`` is ``podman import``-ed with a CMD per image (a tiny
``busybox httpd`` answering ``podman v1``/``podman v2``, a command that crashes at once, one
that eats memory). Each carries a label with this session's id, and every image, container and
pod the session made is removed by that label (or by the daemons' state-id labels) at the end.

The registry is Debian's ``docker-registry`` on a free 127.0.0.1 port with its storage in a
temporary folder; podman talks to it through a registries.conf of ours marking it insecure
(``CONTAINERS_REGISTRIES_CONF``), never through ``/etc``.

Under ``CI=true`` these tests must run: a missing podman or registry fails them. Elsewhere
they are skipped, with the reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.runtime.podman import stop_all
from reconciler.runtime.podman.host import configure, podman_env
from reconciler.runtime.podman.translate import LABEL_STATE_ID
from tests.e2e.harness import DaemonProcess, wait_for
from tests.ports import free_port as free_port  # the podman tests import it from here

SESSION = uuid.uuid4().hex[:8]
TEST_LABEL = "io.reconciler.test"
BUSYBOX = Path("/bin/busybox")


def _missing() -> str:
    if shutil.which("podman") is None:
        return "podman is not installed (apt-get install podman runc)"
    if not BUSYBOX.is_file():
        return "busybox-static is not installed (apt-get install busybox-static)"
    if shutil.which("docker-registry") is None:
        return "docker-registry is not installed (apt-get install docker-registry)"
    return ""


@pytest.fixture(scope="session")
def podman_env_vars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """podman's environment as the runtime configures it for this host (checked to work)."""
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"podman tests must run in CI: {reason}")
        print(f"\nskipping podman tests: {reason}")
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("podman-config")
    env = configure(state)
    info = subprocess.run(["podman", "info"], env=env, capture_output=True, text=True)
    if info.returncode != 0:
        message = f"podman does not work here: {info.stderr.strip()[-500:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        print(f"\nskipping podman tests: {message}")
        pytest.skip(message)
    return podman_env(state)


def podman(env: dict[str, str], *args: str, check: bool = True) -> str:
    result = subprocess.run(["podman", *args], env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {result.stderr}")
    return result.stdout


@dataclass(frozen=True)
class Images:
    registry: str  # 127.0.0.1:PORT
    web_v1: str  # in the registry only (a pull is needed)
    web_v2: str
    local_web: str  # in local storage only (imagePullPolicy: Never / IfNotPresent)
    crash: str
    hog: str


def _rootfs(folder: Path, page: str = "") -> Path:
    """A tar of a root filesystem: busybox-static, its applet links, and ``/www/index.html``."""
    root = folder / f"rootfs-{uuid.uuid4().hex[:6]}"
    (root / "bin").mkdir(parents=True)
    (root / "www").mkdir()
    (root / "tmp").mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = ("sh", "httpd", "cat", "echo", "sleep", "env", "head", "tail", "ls", "true", "wget")
    for applet in applets:
        (root / "bin" / applet).symlink_to("busybox")
    (root / "www" / "index.html").write_text(page)
    archive = root.with_suffix(".tar")
    with tarfile.open(archive, "w") as tar:
        tar.add(root, arcname=".")
    return archive


def _import(env: dict[str, str], folder: Path, ref: str, *, cmd: str, page: str = "") -> None:
    """``podman import`` a busybox rootfs as ``ref`` with ``cmd`` as its CMD."""
    args = ["import"]
    for change in (f"CMD {cmd}", f"LABEL {TEST_LABEL}={SESSION}", "ENV PATH=/bin"):
        args += ["--change", change]
    podman(env, *args, str(_rootfs(folder, page)), ref)


HTTPD = '["/bin/sh", "-c", "echo serving $(cat /www/index.html); trap \\"exit 0\\" TERM; httpd -f -p 80 -h /www & wait"]'  # noqa: E501


@pytest.fixture(scope="session")
def images(
    podman_env_vars: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Images]:
    """The test images, two of them pushed to a real local registry started for the session."""
    env = podman_env_vars
    work = tmp_path_factory.mktemp("images")
    port = free_port()
    config = work / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {work / 'registry'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    registries = work / "registries.conf"
    registries.write_text(f'[[registry]]\nlocation = "127.0.0.1:{port}"\ninsecure = true\n')
    saved = os.environ.get("CONTAINERS_REGISTRIES_CONF")
    os.environ["CONTAINERS_REGISTRIES_CONF"] = str(registries)  # for the daemons started later
    env = {**env, "CONTAINERS_REGISTRIES_CONF": str(registries)}
    registry = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _listening(port), timeout=20, what="registry listening")
        repo = f"localhost/rc-test-{SESSION}"
        made = Images(
            registry=f"127.0.0.1:{port}",
            web_v1=f"127.0.0.1:{port}/rc-test/web:v1",
            web_v2=f"127.0.0.1:{port}/rc-test/web:v2",
            local_web=f"{repo}/web:v1",
            crash=f"{repo}/crash:v1",
            hog=f"{repo}/hog:v1",
        )
        _import(env, work, made.local_web, cmd=HTTPD, page="podman v1\n")
        podman(env, "tag", made.local_web, made.web_v1)
        _import(env, work, f"{repo}/web:v2", cmd=HTTPD, page="podman v2\n")
        podman(env, "tag", f"{repo}/web:v2", made.web_v2)
        for ref in (made.web_v1, made.web_v2):
            podman(env, "push", "--quiet", ref)
            podman(env, "untag", ref, ref)  # only the registry has it now: starting pulls it
        _import(env, work, made.crash, cmd='["/bin/sh", "-c", "echo crashing; exit 3"]')
        hog = "x=0123456789abcdef; while true; do x=$x$x; done"
        _import(env, work, made.hog, cmd=f'["/bin/sh", "-c", "sleep 1; {hog}"]')
        yield made
    finally:
        registry.terminate()
        registry.wait(10)
        if saved is None:
            os.environ.pop("CONTAINERS_REGISTRIES_CONF", None)
        else:
            os.environ["CONTAINERS_REGISTRIES_CONF"] = saved
        leftovers = podman(env, "ps", "-aq", "--filter", f"label={TEST_LABEL}={SESSION}")
        if leftovers.split():
            podman(env, "rm", "-f", *leftovers.split(), check=False)
        ours = podman(env, "images", "-q", "--filter", f"label={TEST_LABEL}={SESSION}")
        if ours.split():
            podman(env, "rmi", "-f", *sorted(set(ours.split())), check=False)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def containers_of(env: dict[str, str], state: Path) -> list[str]:
    """Names of the podman containers (any state) a daemon on ``state`` owns."""
    from reconciler.runtime.podman.host import state_id

    out = podman(
        env,
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        f"label={LABEL_STATE_ID}={state_id(state)}",
    )
    return out.split()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "manifests"
    path.mkdir()
    return path


@pytest.fixture
def daemon(
    folder: Path, tmp_path: Path, images: Images, podman_env_vars: dict[str, str]
) -> Iterator[DaemonProcess]:
    """A daemon with ``--runtime podman``; stopped at the end, and nothing of it left."""
    process = DaemonProcess(folder, tmp_path / "state", "--runtime", "podman")
    yield process
    process.stop()
    state = tmp_path / "state"
    # what ``reconciler down`` does for podman pods: a daemon stopping leaves them running
    # once it detaches at SIGTERM (issue 13a); this removes every one, gracefully
    asyncio.run(stop_all(state))
    process.down()  # and the data plane, and any process pod (a test may mix runtimes)
    try:
        assert containers_of(podman_env_vars, state) == [], "containers left after stop"
    finally:
        from reconciler.runtime.podman.host import state_id

        pods = podman(
            podman_env_vars,
            "pod",
            "ps",
            "-q",
            "--filter",
            f"label={LABEL_STATE_ID}={state_id(state)}",
        )
        if pods.split():
            podman(podman_env_vars, "pod", "rm", "-f", *pods.split(), check=False)
