"""The engine's vocabulary: the values a planner reads and the plan it returns.

The engine is a functional core (DESIGN.md decision 5): the executor observes the world
(store + runtime), builds a ``DeploymentView``, calls ``plan(view, now=...)`` and applies the
returned ``Plan`` through the Runtime and the Proxy. Nothing here has effects, so a planner is
tested by building values and reading the plan, never through a fake client.

Contract with the executor
--------------------------
* ``DeploymentView.template_hash`` names the ReplicaSet matching ``spec.template``. The executor
  records it (and its revision) before planning; it may sit at 0 replicas. If it is not in
  ``replica_sets`` the engine treats it as an RS ``<deployment>-<hash>`` at 0 replicas, and a
  ``ScaleReplicaSet`` naming an RS that does not exist yet means "create it, then scale".
* ``ScaleReplicaSet.annotations`` are the RS annotations to set (``desired-replicas``,
  ``max-replicas``); others stay as they are.
* ``Plan.status`` is stored as-is and handed back as ``DeploymentView.status`` next pass; that is
  where the engine keeps its memory: the conditions, and the typed ``RolloutState``
  (``engine/state.py``: canary step, abort flag, stable RS, ...), which ``Plan.rollout`` also
  carries and ``engine/serialize.py`` alone turns into ``status["rollout"]`` and back.
* Pods follow their RS's ``replicas`` through ``replicaset.plan_pods`` (a ``PodPlan``): the
  executor starts ``PodPlan.start`` pods and deletes ``PodPlan.delete``.
* Times are epoch seconds (floats) throughout, ``status`` included.

``Plan.status`` keys (JSON-able): ``observedGeneration``, ``replicas``, ``updatedReplicas``,
``readyReplicas``, ``availableReplicas``, ``unavailableReplicas``, ``conditions`` (each
``{type, status, reason, message, lastUpdateTime, lastTransitionTime}``), ``collisionCount``
is left to the executor, and ``rollout`` (``serialize.rollout_to_dict``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.engine.state import RolloutState

# Annotation keys (Kubernetes' names) the engine reads and writes on ReplicaSets.
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


class IntentAction(enum.StrEnum):
    """Every intent verb the CLI writes into the store (DESIGN.md decision 2), defined once.

    The engine consumes ``promote``, ``abort``, ``retry`` and ``restart`` (``ENGINE_INTENTS``);
    the daemon carries out the others itself.
    """

    PROMOTE = "promote"  # args: {"full": bool}
    ABORT = "abort"
    RETRY = "retry"
    RESTART = "restart"  # args: {"at": float}
    DELETE_POD = "delete-pod"  # the pod named by the intent's object
    PRUNE = "prune"  # args: {"objects": ["namespace/name", ...]} the prune guard holds
    RESYNC = "resync"  # read the folder (and the secrets) again


class ConditionType(enum.StrEnum):
    AVAILABLE = "Available"
    PROGRESSING = "Progressing"
    REPLICA_FAILURE = "ReplicaFailure"


class Reason(enum.StrEnum):
    """Condition and event reasons, spelled as Kubernetes and Argo Rollouts spell them."""

    MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
    MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
    NEW_RS_CREATED = "NewReplicaSetCreated"
    FOUND_NEW_RS = "FoundNewReplicaSet"
    RS_UPDATED = "ReplicaSetUpdated"
    NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
    PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
    DEPLOYMENT_PAUSED = "DeploymentPaused"
    DEPLOYMENT_RESUMED = "DeploymentResumed"
    SCALING_REPLICA_SET = "ScalingReplicaSet"
    ROLLOUT_ABORTED = "RolloutAborted"
    ROLLOUT_RETRY = "RolloutRetry"
    ROLLOUT_COMPLETED = "RolloutCompleted"
    ROLLOUT_PAUSED = "RolloutPaused"
    ROLLOUT_RESUMED = "RolloutResumed"
    ROLLOUT_STEP_COMPLETED = "RolloutStepCompleted"
    ROLLOUT_PROMOTED = "RolloutPromoted"
    ROLLOUT_RESTARTED = "RolloutRestarted"
    ROLLED_BACK = "RolledBack"
    ANALYSIS_FAILED = "AnalysisRunFailed"
    SWITCH_ACTIVE = "SwitchService"


# ---------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True, slots=True)
class PodView:
    """One pod as the engine needs it (built from ``runtime.PodStatus``)."""

    name: str
    created_at: float
    ready: bool = False
    ready_since: float | None = None
    terminating: bool = False
    phase: str = "Pending"  # Pending / Running / Succeeded / Failed
    # first waiting reason among the containers ("" if none): ContainerCreating, ErrImagePull,
    # ImagePullBackOff, CrashLoopBackOff, CreateContainerConfigError
    waiting_reason: str = ""
    waiting_message: str = ""
    restarts: int = 0

    def available(self, *, min_ready_seconds: float, now: float) -> bool:
        """Ready for at least ``minReadySeconds`` and not on its way out."""
        if self.terminating or not self.ready:
            return False
        if min_ready_seconds <= 0:
            return True
        return self.ready_since is not None and self.ready_since + min_ready_seconds <= now

    @property
    def active(self) -> bool:
        """Counted by its ReplicaSet: not terminating and not in a terminal phase."""
        return not self.terminating and self.phase not in ("Succeeded", "Failed")


@dataclass(frozen=True, slots=True)
class ReplicaSetView:
    """A ReplicaSet: its spec (``replicas``), its annotations, and the pods it owns."""

    name: str
    hash: str
    revision: int
    replicas: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    pods: tuple[PodView, ...] = ()


@dataclass(frozen=True, slots=True)
class Intent:
    """A pending CLI intent (a row the CLI wrote into the store)."""

    id: int
    action: str  # IntentAction
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeploymentView:
    """Everything one planning pass reads about one Deployment."""

    namespace: str
    name: str
    generation: int
    spec: Mapping[str, Any]  # reconciler.defaults.default_deployment(obj)["spec"]
    template_hash: str
    replica_sets: tuple[ReplicaSetView, ...] = ()
    status: Mapping[str, Any] = field(default_factory=dict)
    # Services in the namespace whose selector matches the pod template labels
    services: tuple[str, ...] = ()
    intents: tuple[Intent, ...] = ()
    # canary analysis: failures counted (HTTP checks + proxy connection failures) against the
    # RS ``template_hash`` since it became the canary; the executor keeps counting, the engine
    # compares with ``analysis.failureLimit``.
    analysis_failures: int = 0
    # the latest failed check's measured values (a metric of the canary's requests), "" if none
    analysis_message: str = ""


# ---------------------------------------------------------------------------------------------
# outputs


@dataclass(frozen=True, slots=True)
class ScaleReplicaSet:
    """Set an RS's replicas (creating ``name`` first if it does not exist yet)."""

    name: str
    replicas: int
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeleteReplicaSet:
    """Delete an RS (history clean-up); it is at 0 replicas with no pods left."""

    name: str


@dataclass(frozen=True, slots=True)
class DeletePod:
    """Stop one pod (its RS keeps its replicas, so the RS controller replaces it)."""

    name: str
    reason: str


Action = ScaleReplicaSet | DeleteReplicaSet | DeletePod


@dataclass(frozen=True, slots=True)
class EventRecord:
    type: str  # "Normal" | "Warning"
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class HeaderMatch:
    """One ``setHeaderRoute`` match: a request header equal to (or prefixed by, or matching in
    full the regex) ``value``."""

    header: str
    value: str
    kind: str = "exact"  # "exact" | "prefix" | "regex"


@dataclass(frozen=True, slots=True)
class TrafficGroup:
    """Ready pods of ``replica_sets`` share ``weight`` of a Service's new connections."""

    name: str  # "stable", "canary", "active", "preview", or an RS name
    weight: int
    replica_sets: tuple[str, ...]
    match: tuple[HeaderMatch, ...] = ()  # a header route: only (all) matching requests; no weight


@dataclass(frozen=True, slots=True)
class Plan:
    """The next safe step for one Deployment, plus its new status.

    ``traffic`` maps a Service name to its groups, only for Services the strategy routes
    (blue-green active/preview, canary stable/canary or the deployment's own Services during a
    canary). A Service not in the map gets every Ready matching pod with equal weight.
    ``requeue_after`` is the number of seconds until a timer matters (None: only on change).
    """

    actions: tuple[Action, ...] = ()
    status: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[EventRecord, ...] = ()
    traffic: Mapping[str, tuple[TrafficGroup, ...]] = field(default_factory=dict)
    consumed_intents: tuple[int, ...] = ()
    requeue_after: float | None = None
    rollout: RolloutState = field(default_factory=RolloutState)  # == rollout_of(status)


@dataclass(frozen=True, slots=True)
class PodPlan:
    """What the RS controller does for one RS: start ``start`` pods, delete ``delete``."""

    start: int = 0
    delete: tuple[str, ...] = ()
    requeue_after: float | None = None
