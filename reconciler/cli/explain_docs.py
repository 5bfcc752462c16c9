"""What ``explain`` says about the fields our schemas leave undescribed, by path.

Our JSON schemas describe mostly what differs from Kubernetes; the meaning of the common
fields is Kubernetes' own. These are those meanings, shortened, keyed by the field's path
below the kind (``spec.template.spec.containers``); a schema's ``description`` wins over them.
"""

from __future__ import annotations

__all__ = ["FIELD_DOCS", "KIND_DOCS"]

KIND_DOCS = {
    "Deployment": "Deployment enables declarative updates for Pods and ReplicaSets. The "
    "reconciler runs it on this host with RollingUpdate, Recreate and the Argo Rollouts "
    "BlueGreen and Canary strategies.",
    "Service": "Service is a named abstraction of software service (for example, mysql) "
    "consisting of local port (for example 3306) that the proxy listens on, and the selector "
    "that determines which pods will answer requests sent through the proxy.",
    "Pod": "Pod is a collection of containers that can run on a host. Here, a group of "
    "processes or a podman pod that a ReplicaSet of a Deployment created.",
    "ConfigMap": "ConfigMap holds configuration data for pods to consume.",
    "Secret": "Secret holds secret data of a certain type. The total bytes of the values in "
    "the Data field must be less than MaxSecretSize bytes.",
}

_META = {
    "metadata": "Standard object's metadata.",
    "metadata.name": "Name must be unique within a namespace. Cannot be updated.",
    "metadata.namespace": "Namespace defines the space within which each name must be "
    'unique. An empty namespace is equivalent to the "default" namespace.',
    "metadata.labels": "Map of string keys and values that can be used to organize and "
    "categorize (scope and select) objects.",
    "metadata.annotations": "Annotations is an unstructured key value map stored with a "
    "resource that may be set by external tools to store and retrieve arbitrary metadata.",
    "apiVersion": "APIVersion defines the versioned schema of this representation of an object.",
    "kind": "Kind is a string value representing the REST resource this object represents.",
}

_POD = {
    "containers": "List of containers belonging to the pod. There must be at least one "
    "container in a Pod.",
    "containers.name": "Name of the container specified as a DNS_LABEL. Each container in a "
    "pod must have a unique name.",
    "containers.image": "Container image name. With the process runtime, the version label of "
    "the artifact the command runs; with podman, a real image.",
    "containers.command": "Entrypoint array. Not executed within a shell. Variable references "
    "$(VAR_NAME) are expanded using the container's environment.",
    "containers.args": "Arguments to the entrypoint. Variable references $(VAR_NAME) are "
    "expanded using the container's environment.",
    "containers.env": "List of environment variables to set in the container.",
    "containers.envFrom": "List of sources to populate environment variables in the "
    "container (ConfigMaps and Secrets).",
    "containers.ports": "List of ports to expose from the container.",
    "containers.readinessProbe": "Periodic probe of container service readiness. Container "
    "will be removed from service endpoints if the probe fails.",
    "containers.livenessProbe": "Periodic probe of container liveness. Container will be "
    "restarted if the probe fails.",
    "containers.startupProbe": "StartupProbe indicates that the Pod has successfully "
    "initialized. If specified, no other probes are executed until this completes.",
    "containers.resources": "Compute Resources required by this container (limits enforced "
    "through cgroups).",
    "containers.lifecycle": "Actions that the management system should take in response to "
    "container lifecycle events.",
    "containers.volumeMounts": "Pod volumes to mount into the container's filesystem.",
    "containers.workingDir": "Container's working directory.",
    "volumes": "List of volumes that can be mounted by containers belonging to the pod.",
    "terminationGracePeriodSeconds": "Optional duration in seconds the pod needs to "
    "terminate gracefully. Defaults to 30 seconds.",
    "restartPolicy": "Restart policy for all containers within the pod.",
    "runtimeClassName": "The runtime that runs this pod: process (the default) or podman.",
}

_DEPLOYMENT = {
    "spec": "Specification of the desired behavior of the Deployment.",
    "spec.replicas": "Number of desired pods. Defaults to 1.",
    "spec.selector": "Label selector for pods. Existing ReplicaSets whose pods are selected "
    "by this will be the ones affected by this deployment. It must match the pod template's "
    "labels.",
    "spec.template": "Template describes the pods that will be created.",
    "spec.template.metadata": "Standard object's metadata.",
    "spec.template.spec": "Specification of the desired behavior of the pod.",
    "spec.strategy": "The deployment strategy to use to replace existing pods with new ones.",
    "spec.strategy.type": "Type of deployment. Default is RollingUpdate.",
    "spec.strategy.rollingUpdate": "Rolling update config params. Present only if "
    "DeploymentStrategyType = RollingUpdate.",
    "spec.strategy.rollingUpdate.maxSurge": "The maximum number of pods that can be scheduled "
    "above the desired number of pods. Value can be an absolute number (ex: 5) or a "
    "percentage of desired pods (ex: 10%). Defaults to 25%.",
    "spec.strategy.rollingUpdate.maxUnavailable": "The maximum number of pods that can be "
    "unavailable during the update. Value can be an absolute number (ex: 5) or a percentage "
    "of desired pods (ex: 10%). Defaults to 25%.",
    "spec.strategy.blueGreen": "Argo Rollouts' BlueGreen: the new ReplicaSet behind the "
    "preview Service, then the active Service switched to it at once.",
    "spec.strategy.canary": "Argo Rollouts' Canary: setWeight and pause steps shifting the "
    "Service traffic between the stable and the canary ReplicaSet.",
    "spec.minReadySeconds": "Minimum number of seconds for which a newly created pod should "
    "be ready without any of its container crashing, for it to be considered available.",
    "spec.revisionHistoryLimit": "The number of old ReplicaSets to retain to allow rollback. "
    "Defaults to 10.",
    "spec.progressDeadlineSeconds": "The maximum time in seconds for a deployment to make "
    "progress before it is considered to be failed. Defaults to 600s.",
    "spec.paused": "Indicates that the deployment is paused.",
}

_SERVICE = {
    "spec": "Spec defines the behavior of a service.",
    "spec.selector": "Route service traffic to pods with label keys and values matching this "
    "selector.",
    "spec.ports": "The list of ports that are exposed by this service.",
    "spec.ports.port": "The port that will be exposed by this service.",
    "spec.ports.targetPort": "Number or name of the port to access on the pods targeted by "
    "the service.",
    "spec.ports.name": "The name of this port within the service. Must be unique within the "
    "ServiceSpec.",
    "spec.ports.protocol": 'The IP protocol for this port. Supports "TCP".',
    "spec.ports.appProtocol": 'The application protocol for this port; "http" makes the '
    "listener HTTP-aware (per-request routing, cookies, header routes).",
    "spec.type": "type determines how the Service is exposed. Defaults to ClusterIP.",
    "spec.sessionAffinity": 'Supports "ClientIP" and "None". Used to maintain session '
    "affinity. Defaults to None.",
    "spec.sessionAffinityConfig": "sessionAffinityConfig contains the configurations of "
    "session affinity.",
}

_CONFIG = {
    "data": "Data contains the configuration data. Each key must consist of alphanumeric "
    "characters, '-', '_' or '.'.",
    "binaryData": "BinaryData contains the binary data, base64-encoded.",
    "stringData": "stringData allows specifying non-binary secret data in string form. It is "
    "provided as a write-only input field for convenience.",
    "type": "Used to facilitate programmatic handling of secret data.",
    "immutable": "Immutable, if set to true, ensures that data stored cannot be updated.",
}

FIELD_DOCS: dict[str, dict[str, str]] = {
    "Deployment": {
        **_META,
        **_DEPLOYMENT,
        **{f"spec.template.spec.{k}": v for k, v in _POD.items()},
        **{f"spec.template.{k}": v for k, v in _META.items() if k.startswith("metadata.")},
    },
    "Service": {**_META, **_SERVICE},
    "ConfigMap": {**_META, **_CONFIG},
    "Secret": {**_META, **_CONFIG},
}
