"""Generate the validator benchmark corpus: 1,000 realistic Deployments, ~5% seeded errors.

Writes ``<out>/files/NNNN-<name>.yaml`` (one Deployment each), ``<out>/all.yaml`` (the same
documents as one multi-document file) and ``<out>/seeded.json``: for every seeded error its
file, document index, the line and column of the offending key, and what kind of error it is.
Deterministic for a given ``--seed``.

    python bench/validate/gen_corpus.py --out bench/out/corpus
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

TEAMS = ["payments", "search", "checkout", "catalog", "identity", "billing", "media", "ads"]
ROLES = ["api", "worker", "web", "gateway", "indexer", "cron", "cache", "auth"]

# (error id, kind of check, the text to find on the offending line, a mutation of the YAML)
# Each mutation takes the clean text and returns the broken text; ``anchor`` identifies the
# offending line (its first occurrence after ``after``, if given).
ERRORS = [
    ("replicas-string", "schema"),
    ("unknown-field", "schema"),
    ("missing-image", "schema"),
    ("port-string", "schema"),
    ("label-int", "schema"),
    ("strategy-enum", "schema"),
    ("negative-replicas", "schema"),
    ("period-string", "schema"),
    ("env-value-int", "schema"),
    ("restart-never", "schema"),
    ("selector-mismatch", "semantic"),
    ("surge-zero", "semantic"),
    ("bad-percent", "semantic"),
    ("unavailable-150", "semantic"),
    ("deadline-min-ready", "semantic"),
    ("rolling-with-recreate", "semantic"),
    ("bad-name", "semantic"),
    ("duplicate-container", "semantic"),
    ("probe-port-name", "semantic"),
    ("duplicate-key", "loader"),
]


@dataclass(frozen=True, slots=True)
class Seeded:
    error: str
    check: str
    file: str
    document: int
    line: int  # in the one-file-per-object file
    column: int
    all_line: int  # in all.yaml
    all_column: int


def deployment(index: int, rng: random.Random, *, command: bool = True) -> str:
    text = _deployment(index, rng)
    if command:
        return text
    # as written for a cluster: the image's entrypoint runs, no container command
    return text.replace('          command: ["python3", "-m", "reconciler.demoapp"]\n', "")


def _deployment(index: int, rng: random.Random) -> str:
    team, role = rng.choice(TEAMS), rng.choice(ROLES)
    name = f"{team}-{role}-{index:04d}"
    replicas = rng.choice([1, 2, 3, 3, 4, 6])
    surge, unavailable = rng.choice([("25%", "25%"), (1, 0), ("50%", 0), (2, 1)])
    port = rng.choice([8080, 8000, 3000, 9090])
    version = f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    return f"""\
# {name}: owned by team {team}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {team}
  labels:
    app: {name}
    team: {team}
    tier: {role}
  annotations:
    owner: "{team}@example.com"
spec:
  replicas: {replicas}
  revisionHistoryLimit: 10
  progressDeadlineSeconds: 600
  minReadySeconds: 5
  selector:
    matchLabels:
      app: {name}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: {json.dumps(surge)}
      maxUnavailable: {json.dumps(unavailable)}
  template:
    metadata:
      labels:
        app: {name}
        team: {team}
        version: {version}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: {role}
          image: registry.example.com/{team}/{role}:{version}
          command: ["python3", "-m", "reconciler.demoapp"]
          args: ["--log-level", "info"]
          workingDir: /srv/{role}
          env:
            - name: TEAM
              value: {team}
            - name: LOG_FORMAT
              value: json
            - name: MAX_CONNECTIONS
              value: "{rng.choice([64, 128, 256])}"
          ports:
            - name: http
              containerPort: {port}
              protocol: TCP
            - name: metrics
              containerPort: {port + 1}
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 2
            periodSeconds: 5
            failureThreshold: 3
          livenessProbe:
            tcpSocket:
              port: http
            periodSeconds: 10
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              cpu: "1"
              memory: 512Mi
          lifecycle:
            preStop:
              exec:
                command: ["sleep", "2"]
        - name: log-shipper
          image: registry.example.com/platform/shipper:v2.1.0
          command: ["python3", "-m", "reconciler.demoapp"]
          env:
            - name: PORT
              value: "9500"
"""


def _replace(text: str, old: str, new: str) -> tuple[str, str]:
    assert old in text, old
    return text.replace(old, new, 1), new.strip().splitlines()[0]


def seed(error: str, text: str) -> tuple[str, str]:
    """(broken text, anchor: the text of the offending line, stripped)."""
    if error == "replicas-string":
        import re

        new = re.sub(r"\n  replicas: \d+\n", "\n  replicas: three\n", text, count=1)
        return new, "replicas: three"
    if error == "unknown-field":
        return _replace(text, "  revisionHistoryLimit: 10\n", "  revisionHistoryLimt: 10\n")
    if error == "missing-image":
        start = text.index("          image: registry")
        end = text.index("\n", start) + 1
        return text[:start] + text[end:], "- name: " + text.split("        - name: ")[1].split(
            "\n"
        )[0]
    if error == "port-string":
        import re

        match = re.search(r"containerPort: (\d+)\n              protocol", text)
        assert match
        line = f'containerPort: "{match[1]}"'
        return text.replace(match[0], f"{line}\n              protocol", 1), line
    if error == "label-int":
        return _replace(text, "    tier: ", "    shard: 7\n    tier: ")
    if error == "strategy-enum":
        return _replace(text, "    type: RollingUpdate\n", "    type: Rolling\n")
    if error == "negative-replicas":
        import re

        return re.sub(r"\n  replicas: \d+\n", "\n  replicas: -1\n", text, count=1), "replicas: -1"
    if error == "period-string":
        return _replace(text, "            periodSeconds: 5\n", "            periodSeconds: 5s\n")
    if error == "env-value-int":
        return _replace(text, "              value: json\n", "              value: 1\n")
    if error == "restart-never":
        return _replace(
            text,
            "      terminationGracePeriodSeconds: 30\n",
            "      restartPolicy: Never\n      terminationGracePeriodSeconds: 30\n",
        )
    if error == "selector-mismatch":
        start = text.index("  template:\n")
        head, tail = text[:start], text[start:]
        tail = tail.replace("        app: ", "        app: x-", 1)
        return head + tail, "labels:"  # anchor: the template's labels (second "labels:")
    if error == "surge-zero":
        import re

        text = re.sub(r"maxSurge: .*\n", "maxSurge: 0\n", text, count=1)
        return re.sub(r"maxUnavailable: .*\n", "maxUnavailable: 0\n", text, count=1), (
            "maxUnavailable: 0"
        )
    if error == "bad-percent":
        import re

        return re.sub(r"maxSurge: .*\n", 'maxSurge: "25"\n', text, count=1), 'maxSurge: "25"'
    if error == "unavailable-150":
        import re

        return re.sub(r"maxUnavailable: .*\n", 'maxUnavailable: "150%"\n', text, count=1), (
            'maxUnavailable: "150%"'
        )
    if error == "deadline-min-ready":
        return _replace(text, "  progressDeadlineSeconds: 600\n", "  progressDeadlineSeconds: 5\n")
    if error == "rolling-with-recreate":
        text = text.replace("    type: RollingUpdate\n", "    type: Recreate\n", 1)
        return text, "rollingUpdate:"
    if error == "bad-name":
        import re

        match = re.search(r"\n  name: (\S+)\n", text)
        assert match
        new = match[1].replace("-", "_").upper()
        return text.replace(match[0], f"\n  name: {new}\n", 1), f"name: {new}"
    if error == "duplicate-container":
        return (
            _replace(text, "        - name: log-shipper\n", "        - name: log_dup\n")
            if False
            else (
                text.replace(
                    "        - name: log-shipper\n",
                    "        - name: " + text.split("        - name: ")[1].split("\n")[0] + "\n",
                    1,
                ),
                "- name: " + text.split("        - name: ")[1].split("\n")[0] + "@2",
            )
        )
    if error == "probe-port-name":
        return _replace(
            text,
            "              port: http\n            initialDelaySeconds",
            "              port: htp\n            initialDelaySeconds",
        )
    if error == "duplicate-key":
        return (
            _replace(
                text,
                "  minReadySeconds: 5\n",
                "  minReadySeconds: 5\n  paused: false\n  minReadySeconds: 10\n",
            )
            if False
            else (
                text.replace(
                    "  minReadySeconds: 5\n", "  minReadySeconds: 5\n  minReadySeconds: 10\n", 1
                ),
                "minReadySeconds: 10",
            )
        )
    raise ValueError(error)


def locate(text: str, anchor: str, error: str) -> tuple[int, int]:
    """1-based (line, column) of the key on the anchor line (``@2``: its second occurrence)."""
    nth = 1
    if anchor.endswith("@2"):
        anchor, nth = anchor[:-2], 2
    if error == "selector-mismatch":
        nth = 2  # metadata.labels, then the template's labels
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped == anchor or stripped.startswith(anchor):
            seen += 1
            if seen == nth:
                column = len(line) - len(line.lstrip()) + 1
                if stripped.startswith("- "):
                    column += 2
                return number, column
    raise AssertionError(f"anchor {anchor!r} not found for {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/out/corpus")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--errors", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20260)
    parser.add_argument(
        "--no-command",
        action="store_true",
        help="cluster-shaped: containers without command (the local runtime warns)",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = Path(args.out)
    files = out / "files"
    files.mkdir(parents=True, exist_ok=True)
    for old in files.glob("*.yaml"):
        old.unlink()
    broken = dict(
        zip(
            sorted(rng.sample(range(args.count), args.errors)),
            [e for e, _ in ERRORS] * 99,
            strict=False,
        )
    )
    checks = dict(ERRORS)
    seeded: list[Seeded] = []
    texts: list[str] = []
    all_line = 1
    for index in range(args.count):
        text = deployment(index, rng, command=not args.no_command)
        name = f"{index:04d}.yaml"
        if index in broken:
            error = broken[index]
            text, anchor = seed(error, text)
            line, column = locate(text, anchor, error)
            seeded.append(
                Seeded(
                    error,
                    checks[error],
                    f"files/{name}",
                    index,
                    line,
                    column,
                    all_line + line,
                    column,
                )
            )
        (files / name).write_text(text)
        texts.append(text)
        all_line += text.count("\n") + 1  # the "---" separator line
    (out / "all.yaml").write_text("".join(f"---\n{t}" for t in texts))
    (out / "seeded.json").write_text(json.dumps([asdict(s) for s in seeded], indent=1) + "\n")
    print(f"wrote {args.count} deployments ({len(seeded)} with seeded errors) to {out}")


if __name__ == "__main__":
    main()
