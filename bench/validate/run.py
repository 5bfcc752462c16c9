"""Time ``reconciler validate`` against kubernetes-validate and check-jsonschema on one corpus.

Installs the peers into ``bench/.venv-peers`` (once), generates the corpus, runs each tool 5
times on 1,000 one-Deployment files (and reconciler also on the one multi-document file), and
prints a Markdown table: median wall time, throughput ratio, peak RSS, and how many of the
seeded errors each tool reported (reconciler: at the exact line and column).

    .venv/bin/python bench/validate/run.py            # from the repository root
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "bench" / ".venv-peers"
CORPUS = ROOT / "bench" / "out" / "corpus"
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


def timed(argv: list[str]) -> tuple[float, str]:
    """(wall seconds, stdout+stderr) of one whole run."""
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=CORPUS, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, proc.stdout + proc.stderr


def peak_rss(argv: list[str]) -> int:
    proc = subprocess.Popen(argv, cwd=CORPUS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return int(usage.ru_maxrss // 1024)


def measure(argv: list[str]) -> tuple[float, int, str]:
    times, output = [], ""
    for _ in range(RUNS):
        elapsed, output = timed(argv)
        times.append(elapsed)
    return statistics.median(times), peak_rss(argv), output


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
                    "--out", str(CORPUS)], check=True)  # fmt: skip
    seeded = json.loads((CORPUS / "seeded.json").read_text())
    files = sorted(str(p.relative_to(CORPUS)) for p in (CORPUS / "files").glob("*.yaml"))
    schema = str(ROOT / "schemas" / "deployment.schema.json")
    rows = []
    me = [sys.executable, "-m", "reconciler", "validate"]
    t, rss, out = measure([*me, "files"])
    rows.append(("reconciler validate files/", t, rss, caught_exact(out, seeded, all_file=False)))
    t, rss, out = measure([*me, "all.yaml"])
    rows.append(("reconciler validate all.yaml", t, rss, caught_exact(out, seeded, all_file=True)))
    t, rss, out = measure([str(bin_dir / "kubernetes-validate"), "--strict", *files])
    rows.append(
        ("kubernetes-validate --strict", t, rss, caught_files(out, seeded, marker="ERROR {file} "))
    )
    t, rss, out = measure([str(bin_dir / "check-jsonschema"), "--schemafile", schema, *files])
    rows.append(
        ("check-jsonschema (our schema)", t, rss, caught_files(out, seeded, marker="{file}::"))
    )
    base = {name: seconds for name, seconds, _, _ in rows}
    kv, cj = base["kubernetes-validate --strict"], base["check-jsonschema (our schema)"]
    print(f"| tool | median of {RUNS} (s) | vs kubernetes-validate | vs check-jsonschema "
          "| peak RSS (MiB) | seeded errors reported |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, seconds, rss, caught in rows:
        print(f"| {name} | {seconds:.2f} | {kv / seconds:.1f}x | {cj / seconds:.1f}x | {rss} "
              f"| {caught}/{len(seeded)} |")  # fmt: skip


if __name__ == "__main__":
    main()
