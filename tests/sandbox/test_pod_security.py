"""Pod Security admission, as a real API server's PodSecurity plugin does it: namespace
labels choose the level, pods breaking the enforce level are refused in Kubernetes' words,
workloads only draw a Warning header and their controllers' pods are refused with events."""

import json

import pytest
from kubernetes.client.exceptions import ApiException

from .helpers import body, deployment, kubectl, wait_for

LABEL = "pod-security.kubernetes.io/"
HARDENED = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
    "capabilities": {"drop": ["ALL"]},
}
ROOT_ON_THE_NODE = {
    "hostPID": True,
    "hostNetwork": True,
    "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
    "containers": [
        {
            "name": "c",
            "image": "busybox:1.36",
            "securityContext": {"privileged": True, "runAsUser": 0},
            "volumeMounts": [{"name": "root", "mountPath": "/host"}],
        }
    ],
}


def namespace(core, name, level=None, **labels):
    if level:
        labels.update({LABEL + mode: level for mode in ("enforce", "warn", "audit")})
    core.create_namespace({"metadata": {"name": name, "labels": labels}})
    return name


def pod(name, spec=None, **context):
    container = {"name": "c", "image": "nginx:1.27", **({"securityContext": context} if context else {})}
    return {"metadata": {"name": name}, "spec": spec or {"containers": [container]}}


def refusal(call):
    with pytest.raises(ApiException) as refused:
        call()
    return refused.value.status, body(refused.value)


def test_a_privileged_pod_is_refused_in_a_restricted_namespace_in_kubernetes_words(core):
    ns = namespace(core, "psa-restricted", "restricted")
    status, status_body = refusal(lambda: core.create_namespaced_pod(ns, pod("root", ROOT_ON_THE_NODE)))
    assert status == 403 and status_body["reason"] == "Forbidden"
    assert status_body["details"] == {"name": "root", "kind": "pods"}
    assert status_body["message"] == (
        'pods "root" is forbidden: violates PodSecurity "restricted:latest": '
        "host namespaces (hostNetwork=true, hostPID=true), "
        'privileged (container "c" must not set securityContext.privileged=true), '
        'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), '
        'restricted volume types (volume "root" uses restricted volume type "hostPath"), '
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
        'runAsUser=0 (container "c" must not set runAsUser=0), '
        'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type '
        'to "RuntimeDefault" or "Localhost")'
    )
    # the plain pod of every tutorial is refused too; a hardened one (no runAsUser: the kubelet checks the image's
    # user) runs
    status, status_body = refusal(lambda: core.create_namespaced_pod(ns, pod("plain")))
    assert status_body["message"].startswith(
        'pods "plain" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false'
    )
    core.create_namespaced_pod(ns, pod("hardened", **HARDENED))
    assert wait_for(lambda: core.read_namespaced_pod("hardened", ns).status.phase == "Running")


def test_kubectl_prints_the_refusal(sandbox, core):
    ns = namespace(core, "psa-kubectl", "restricted")
    result = kubectl(sandbox, "run", "shell", "-n", ns, "--image=busybox:1.36", "--privileged")
    assert result.returncode == 1
    assert (
        'Error from server (Forbidden): pods "shell" is forbidden: violates PodSecurity "restricted:latest": '
        'privileged (container "shell" must not set securityContext.privileged=true)' in result.stderr
    )


def test_a_workload_is_accepted_with_a_warning_and_its_pods_are_refused_with_events(sandbox, core, apps):
    ns = namespace(core, "psa-workload", "restricted")
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", **deployment("web", replicas=2)}
    applied = kubectl(sandbox, "apply", "-n", ns, "-f", "-", input=json.dumps(manifest))
    assert applied.returncode == 0, applied.stderr
    assert "deployment.apps/web created" in applied.stdout
    assert (
        'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "main" must set securityContext.allowPrivilegeEscalation=false)' in applied.stderr
    )

    _data, status, headers = apps.create_namespaced_stateful_set_with_http_info(
        ns, {**deployment("db", replicas=1), "spec": {**deployment("db", replicas=1)["spec"], "serviceName": "db"}}
    )
    assert status == 201 and headers["Warning"].startswith('299 - "would violate PodSecurity \\"restricted:latest\\": ')

    def failed_creations():
        return {e.involved_object.kind: e for e in core.list_namespaced_event(ns).items if e.reason == "FailedCreate"}

    events = wait_for(lambda: (found := failed_creations()) and len(found) == 2 and found, timeout=20)
    assert events, "no FailedCreate events"
    assert events["ReplicaSet"].type == "Warning" and events["ReplicaSet"].source.component == "replicaset-controller"
    assert events["ReplicaSet"].message.startswith('Error creating: pods "web-')
    assert (
        'is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false'
        in events["ReplicaSet"].message
    )
    assert events["StatefulSet"].message.startswith(
        'create Pod db-0 in StatefulSet db failed error: pods "db-0" is forbidden: '
        'violates PodSecurity "restricted:latest"'
    )
    assert core.list_namespaced_pod(ns).items == []
    assert apps.read_namespaced_deployment("web", ns).status.ready_replicas is None


def test_baseline_allows_what_restricted_refuses_but_not_the_host(core):
    ns = namespace(core, "psa-baseline", "baseline")
    core.create_namespaced_pod(ns, pod("plain"))
    core.create_namespaced_pod(ns, pod("root-user", runAsUser=0, capabilities={"add": ["CHOWN"]}))
    status, status_body = refusal(
        lambda: core.create_namespaced_pod(
            ns,
            pod(
                "host",
                {
                    "hostPID": True,
                    "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
                    "containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"runAsUser": 0}}],
                },
            ),
        )
    )
    assert status == 403
    assert status_body["message"] == (
        'pods "host" is forbidden: violates PodSecurity "baseline:latest": '
        'host namespaces (hostPID=true), hostPath volumes (volume "root")'
    )
    status, status_body = refusal(
        lambda: core.create_namespaced_pod(ns, pod("admin", capabilities={"add": ["SYS_ADMIN", "NET_ADMIN"]}))
    )
    assert status_body["message"].endswith(
        'non-default capabilities (container "c" must not include "NET_ADMIN", "SYS_ADMIN" '
        "in securityContext.capabilities.add)"
    )


def test_an_unlabeled_namespace_is_privileged(core):
    ns = namespace(core, "psa-none")
    created = core.create_namespaced_pod(ns, pod("root", ROOT_ON_THE_NODE))
    assert created.spec.host_pid and created.spec.volumes[0].host_path.path == "/"


def test_versions_warn_mode_and_bad_labels(core, apps):
    # v1.22 knew no runAsUser check; latest refuses root
    old = namespace(core, "psa-v122", **{LABEL + "enforce": "restricted", LABEL + "enforce-version": "v1.22"})
    core.create_namespaced_pod(old, pod("root", **HARDENED, runAsUser=0))
    latest = namespace(core, "psa-latest", "restricted")
    status, status_body = refusal(lambda: core.create_namespaced_pod(latest, pod("root", **HARDENED, runAsUser=0)))
    assert status_body["message"].endswith(
        'violates PodSecurity "restricted:latest": runAsUser=0 (container "c" must not set runAsUser=0)'
    )
    # warn only: allowed, and told why it would not be
    warned = namespace(core, "psa-warn", **{LABEL + "enforce": "baseline", LABEL + "warn": "restricted"})
    _pod, status, headers = core.create_namespaced_pod_with_http_info(warned, pod("plain"))
    assert (
        status == 201
        and 'would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation != false' in headers["Warning"]
    )
    # labels must parse
    status, status_body = refusal(lambda: namespace(core, "psa-bad", **{LABEL + "enforce": "strict"}))
    assert status == 422
    assert status_body["message"] == (
        'Namespace "psa-bad" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted'
    )


def test_a_stricter_level_warns_about_the_pods_already_running(sandbox, core):
    ns = namespace(core, "psa-later")
    for name in ("a", "b"):
        core.create_namespaced_pod(ns, pod(name))
    core.create_namespaced_pod(
        ns, pod("host", {"hostNetwork": True, "containers": [{"name": "c", "image": "nginx:1.27"}]})
    )
    labelled = kubectl(sandbox, "label", "namespace", ns, f"{LABEL}enforce=baseline")
    assert labelled.returncode == 0 and f"namespace/{ns} labeled" in labelled.stdout
    assert (
        f'Warning: existing pods in namespace "{ns}" violate the new PodSecurity enforce level "baseline:latest"'
        in labelled.stderr
    )
    assert "Warning: host: host namespaces" in labelled.stderr
    relabelled = kubectl(sandbox, "label", "--overwrite", "namespace", ns, f"{LABEL}enforce=restricted")
    assert (
        "Warning: a (and 1 other pod): allowPrivilegeEscalation != false, unrestricted capabilities, "
        "runAsNonRoot != true, seccompProfile" in relabelled.stderr
    )
    # the pods keep running: a policy applies to what is created or changed from now on
    assert len(core.list_namespaced_pod(ns).items) == 3
