"""Time ``reconciler validate`` against its peers and the floor, side by side in one run.

Installs the peers into ``bench/.venv-peers`` (once), generates the cluster-shaped corpus
(containers without ``command``, as written for a cluster, so the default target warns on every
file), runs each tool 5 times (interleaved, so the machine's load hits all alike) on 1,000
one-Deployment files (reconciler also on the one multi-document file, both targets), and prints
a Markdown table: median wall time, ratios to kubernetes-validate, check-jsonschema and the
floor (``yaml-rs`` + ``jsonschema-rs``, and PyYAML's C loader + ``jsonschema-rs``:
``floor.py``), peak RSS, and how many of the seeded errors each tool reported (reconciler: at
the exact line and column).

    .venv/bin/python bench/validate/run.py            # from the repository root
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "bench" / ".venv-peers"
CORPUS = ROOT / "bench" / "out" / "cluster"
RUNS = 5


def ensure_peers() -> Path:
    bin_dir = PEERS / "bin"
    if (
        not (bin_dir / "kubernetes-validate").exists()
        or not (bin_dir / "check-jsonschema").exists()
    ):
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet",
                        "kubernetes-validate", "check-jsonschema"], check=True)  # fmt: skip
    return bin_dir


def timed(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds (user + system), stdout+stderr) of one whole run.

    CPU time is what the tool itself costs; wall time also holds waiting for a core, which on
    a shared machine is most of it.
    """
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, cwd=CORPUS, stdout=out, stderr=subprocess.STDOUT)
        _, _, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return elapsed, usage.ru_utime + usage.ru_stime, text


def peak_rss(argv: list[str]) -> int:
    proc = subprocess.Popen(argv, cwd=CORPUS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return int(usage.ru_maxrss // 1024)


def measure_all(commands: dict[str, list[str]]) -> dict[str, tuple[float, float, int, str]]:
    """name -> (median wall s, median CPU s, peak RSS MiB, output), the runs interleaved."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    outputs: dict[str, str] = {}
    for _ in range(RUNS):
        for name, argv in commands.items():
            wall, cpu, outputs[name] = timed(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {
        name: (
            statistics.median(walls[name]),
            statistics.median(cpus[name]),
            peak_rss(argv),
            outputs[name],
        )
        for name, argv in commands.items()
    }


def caught_files(output: str, seeded: list[dict[str, object]], *, marker: str) -> int:
    """Seeded files the tool reported as failing (``marker`` formats its failure line)."""
    return sum(1 for s in seeded if marker.format(file=s["file"]) in output)


def caught_exact(output: str, seeded: list[dict[str, object]], *, all_file: bool) -> int:
    found = set(re.findall(r"^(\S+?):(\d+):(\d+): error", output, re.MULTILINE))
    count = 0
    for s in seeded:
        key = (
            ("all.yaml", str(s["all_line"]), str(s["all_column"]))
            if all_file
            else (str(s["file"]), str(s["line"]), str(s["column"]))
        )
        count += key in found
    return count


def main() -> None:
    bin_dir = ensure_peers()
    subprocess.run([sys.executable, str(ROOT / "bench" / "validate" / "gen_corpus.py"),
                    "--out", str(CORPUS), "--no-command"], check=True)  # fmt: skip
    seeded = json.loads((CORPUS / "seeded.json").read_text())
    files = sorted(str(p.relative_to(CORPUS)) for p in (CORPUS / "files").glob("*.yaml"))
    schema = str(ROOT / "schemas" / "deployment.schema.json")
    me = [sys.executable, "-m", "reconciler", "validate"]
    k8s = [*me, "--target", "kubernetes"]
    floor = [sys.executable, str(ROOT / "bench" / "validate" / "floor.py")]
    cj_bin = str(bin_dir / "check-jsonschema")
    commands = {
        "reconciler validate files/": [*me, "files"],
        "reconciler validate --target kubernetes files/": [*k8s, "files"],
        "reconciler validate all.yaml": [*me, "all.yaml"],
        "reconciler validate --target kubernetes all.yaml": [*k8s, "all.yaml"],
        "floor: yaml-rs + jsonschema-rs": [*floor, "yaml-rs", schema, *files],
        "floor: PyYAML C loader + jsonschema-rs": [*floor, "pyyaml", schema, *files],
        "kubernetes-validate --strict": [str(bin_dir / "kubernetes-validate"), "--strict", *files],
        "check-jsonschema (our schema)": [cj_bin, "--schemafile", schema, *files],
    }
    load_before = os.getloadavg()[0]
    results = measure_all(commands)
    load_after = os.getloadavg()[0]

    def caught(name: str, output: str) -> str:
        if name.startswith("reconciler"):
            count = caught_exact(output, seeded, all_file="all.yaml" in name)
        elif name.startswith("kubernetes-validate"):
            count = caught_files(output, seeded, marker="ERROR {file} ")
        elif name.startswith("check-jsonschema"):
            count = caught_files(output, seeded, marker="{file}::")
        else:
            return "(counts only)"
        return f"{count}/{len(seeded)}"

    print(f"load average {load_before:.2f} before, {load_after:.2f} after; {os.cpu_count()} CPUs")
    for column, title in ((0, "wall time"), (1, "CPU time (user + system)")):
        kv = results["kubernetes-validate --strict"][column]
        cj = results["check-jsonschema (our schema)"][column]
        rs = results["floor: yaml-rs + jsonschema-rs"][column]
        print(f"\n{title}, median of {RUNS}:\n")
        print("| tool | seconds | vs kubernetes-validate | vs check-jsonschema "
              "| × yaml-rs floor | peak RSS (MiB) | seeded errors reported |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        for name, result in results.items():
            seconds, rss, output = result[column], result[2], result[3]
            print(f"| {name} | {seconds:.2f} | {kv / seconds:.1f}x | {cj / seconds:.1f}x "
                  f"| {seconds / rs:.1f} | {rss} | {caught(name, output)} |")  # fmt: skip
    warnings = re.search(r"Warnings: (\d+)", results["reconciler validate files/"][3])
    local = re.search(r"Warnings: (\d+)", results[
        "reconciler validate --target kubernetes files/"][3])  # fmt: skip
    print(f"\nwarnings: default target {warnings and warnings.group(1)}, --target kubernetes "
          f"{local and local.group(1)}")  # fmt: skip


if __name__ == "__main__":
    main()
