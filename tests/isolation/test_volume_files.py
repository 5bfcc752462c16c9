"""configMap/secret volume files: the kubelet's AtomicWriter layout, its swap, its errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.runtime import PodConfig
from reconciler.runtime.isolation.volumes import VolumeError, config_files, write_atomic

CONFIG = PodConfig(config_maps={"app": {"a.conf": b"A", "b.conf": b"B"}}, secrets={})


def test_atomic_writer_layout_and_swap(tmp_path: Path) -> None:
    """..data points at one version; keys are symlinks through it; an update swaps versions,
    drops removed keys and the old version; the same content again changes nothing."""
    vol = tmp_path / "vol"
    assert write_atomic(vol, {"a.conf": (b"A", 0o644), "d/b.conf": (b"B", 0o600)})
    first = os.readlink(vol / "..data")
    assert first.startswith("..") and (vol / first).is_dir()
    assert os.readlink(vol / "a.conf") == "..data/a.conf"
    assert os.readlink(vol / "d") == "..data/d"
    assert (vol / "d" / "b.conf").read_bytes() == b"B"
    assert oct((vol / "d" / "b.conf").stat().st_mode & 0o777) == "0o600"
    assert not write_atomic(vol, {"a.conf": (b"A", 0o644), "d/b.conf": (b"B", 0o600)})
    assert write_atomic(vol, {"a.conf": (b"A2", 0o644)})
    second = os.readlink(vol / "..data")
    assert second != first and not (vol / first).exists()
    assert (vol / "a.conf").read_bytes() == b"A2"
    assert sorted(p.name for p in vol.iterdir()) == sorted([second, "..data", "a.conf"])


def test_items_select_keys_and_modes() -> None:
    """items map keys to paths with their own mode; defaultMode for the rest."""
    volume = {
        "configMap": {
            "name": "app",
            "defaultMode": 0o600,
            "items": [
                {"key": "a.conf", "path": "x/a"},
                {"key": "b.conf", "path": "b", "mode": 0o644},
            ],
        }
    }
    assert config_files(volume, CONFIG, name="v") == {"x/a": (b"A", 0o600), "b": (b"B", 0o644)}


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        pytest.param(
            {"configMap": {"name": "nope"}},
            'MountVolume.SetUp failed for volume "v" : configmap "nope" not found',
            id="missing configmap",
        ),
        pytest.param(
            {"secret": {"secretName": "db"}},
            'MountVolume.SetUp failed for volume "v" : secret "db" not found',
            id="missing secret",
        ),
        pytest.param(
            {"configMap": {"name": "app", "items": [{"key": "zz", "path": "zz"}]}},
            'MountVolume.SetUp failed for volume "v" : configmap references non-existent config '
            "key: zz",
            id="missing key",
        ),
    ],
)
def test_missing_objects_and_keys_use_the_kubelets_words(
    volume: dict[str, object], message: str
) -> None:
    """As the kubelet's configmap and secret volume plugins word them."""
    with pytest.raises(VolumeError) as failed:
        config_files(volume, CONFIG, name="v")
    assert str(failed.value) == message


def test_optional_objects_and_keys_may_be_missing() -> None:
    """optional: true makes a missing object an empty volume and a missing key skipped."""
    assert config_files({"configMap": {"name": "nope", "optional": True}}, CONFIG, name="v") is None
    volume = {"configMap": {"name": "app", "optional": True, "items": [{"key": "zz", "path": "z"}]}}
    assert config_files(volume, CONFIG, name="v") == {}
