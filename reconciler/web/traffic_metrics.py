"""``/metrics`` of the requests through HTTP Service ports, per Service and revision (#20).

The proxy counts per traffic group; the daemon's sampler (``services/traffic.py``) books those
counts to the revision each group served, so these series are per *revision* (its
pod-template-hash) and stay monotonic while the groups' revisions change under them (a counter
keyed on the group would jump when the next rollout's canary takes the name "canary"). They
count since the daemon started (a restarted daemon starts at 0, which ``rate()`` handles):

- ``reconciler_service_requests_total{namespace, service, revision, pod_template_hash,
  code_class}`` (``2xx``...; ``revision`` is the number the other series show, "" once the
  ReplicaSet is gone);
- ``reconciler_service_request_duration_seconds`` (a histogram with the proxy's buckets,
  Prometheus' defaults), from the request's arrival to the end of the response's head;
- ``reconciler_service_requests_in_flight``; ``reconciler_service_proxy_errors_total`` (502/504
  the proxy answered itself because no endpoint could).
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.proxy import LATENCY_BOUNDS
from reconciler.store.traffic import Counts
from reconciler.web.kube_metrics import _escape, counter, gauge

__all__ = ["Totals", "render_traffic"]

Totals = Mapping[tuple[str, str], tuple[Counts, int]]  # (service, revision) -> (counts, in flight)

_DURATION = "reconciler_service_request_duration_seconds"
_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def render_traffic(totals: Totals, revisions: Mapping[tuple[str, str], str] | None = None) -> str:
    """The request families of every (Service, revision) the sampler has seen; ``revisions``
    maps (namespace, pod-template-hash) to the revision number the other series show."""
    revisions = revisions or {}
    keys = ("namespace", "service", "revision", "pod_template_hash")
    requests = counter(
        "reconciler_service_requests_total",
        "Requests the Service proxy answered, by the revision that served them.",
        (*keys, "code_class"),
    )
    in_flight = gauge(
        "reconciler_service_requests_in_flight",
        "Requests sent to the revision's pods and not answered yet.",
        keys,
    )
    errors = counter(
        "reconciler_service_proxy_errors_total",
        "Requests the proxy answered itself (502/504) because no endpoint answered.",
        keys,
    )
    histogram: list[str] = [
        f"# HELP {_DURATION} Time from a request's arrival to its response's head.\n",
        f"# TYPE {_DURATION} histogram\n",
    ]
    for (service, pod_hash), (counts, flying) in sorted(totals.items()):
        namespace, _, name = service.partition("/")
        revision = revisions.get((namespace, pod_hash), "")
        key = [namespace, name, revision, pod_hash]
        for code_class, n in zip(_CLASSES, counts.responses, strict=False):
            requests.add([*key, code_class], n)
        in_flight.add(key, flying)
        errors.add(key, counts.failed)
        labels = (
            f'namespace="{_escape(namespace)}",service="{_escape(name)}",'
            f'revision="{_escape(revision)}",pod_template_hash="{_escape(pod_hash)}"'
        )
        buckets = counts.latency_buckets or (0,) * (len(LATENCY_BOUNDS) + 1)
        for bound, n in zip(LATENCY_BOUNDS, buckets, strict=False):
            histogram.append(f'{_DURATION}_bucket{{{labels},le="{bound}"}} {float(n)!r}\n')
        histogram.append(f'{_DURATION}_bucket{{{labels},le="+Inf"}} {float(buckets[-1])!r}\n')
        histogram.append(f"{_DURATION}_count{{{labels}}} {float(buckets[-1])!r}\n")
        histogram.append(f"{_DURATION}_sum{{{labels}}} {counts.latency_sum!r}\n")
    families = (requests, in_flight, errors)
    return "".join(f.header() + f.lines() for f in families) + "".join(histogram)
