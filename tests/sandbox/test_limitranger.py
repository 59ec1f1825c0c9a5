"""LimitRange admission, as the real LimitRanger plugin does it: defaults filled in
before ResourceQuota sees the pod, bounds refused with the real message. And ports keyed
by number and protocol."""

import pytest
from kubernetes.client.exceptions import ApiException

from .helpers import body


@pytest.fixture(scope="module")
def limited(core):
    core.create_namespace({"metadata": {"name": "limited"}})
    core.create_namespaced_limit_range(
        "limited",
        {
            "metadata": {"name": "defaults"},
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "500m", "memory": "256Mi"},
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        "max": {"cpu": "2"},
                    }
                ]
            },
        },
    )
    core.create_namespaced_resource_quota(
        "limited",
        {
            "metadata": {"name": "q"},
            "spec": {
                "hard": {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}
            },
        },
    )
    return "limited"


def pod(name, resources=None):
    container = {"name": "c", "image": "nginx:1.27", **({"resources": resources} if resources else {})}
    return {"metadata": {"name": name}, "spec": {"containers": [container]}}


def test_defaults_are_filled_in_and_the_quota_admits_the_pod(core, limited):
    created = core.create_namespaced_pod(limited, pod("plain"))
    resources = created.spec.containers[0].resources
    assert resources.requests == {"cpu": "100m", "memory": "128Mi"}
    assert resources.limits == {"cpu": "500m", "memory": "256Mi"}
    assert (
        created.metadata.annotations["kubernetes.io/limit-ranger"]
        == "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c"
    )


def test_an_explicit_limit_is_also_the_request(core, limited):
    created = core.create_namespaced_pod(limited, pod("explicit", {"limits": {"cpu": "300m"}}))
    resources = created.spec.containers[0].resources
    assert resources.requests["cpu"] == "300m" and resources.limits == {"cpu": "300m", "memory": "256Mi"}


def test_above_the_maximum_is_refused(core, limited):
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(limited, pod("greedy", {"limits": {"cpu": "3"}}))
    assert refused.value.status == 403
    assert (
        body(refused.value)["message"]
        == 'pods "greedy" is forbidden: maximum cpu usage per Container is 2, but limit is 3'
    )


def test_ports_differing_only_in_protocol_stay_two_items(api, core, limited):
    """Ports are keyed by number and protocol: DNS on 53/UDP and 53/TCP survive server-side
    apply (the console applies its NetworkPolicies that way)."""
    import json

    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "dns", "namespace": limited},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}],
        },
    }
    path = f"/apis/networking.k8s.io/v1/namespaces/{limited}/networkpolicies/dns"
    for _ in range(2):  # apply twice: the second apply must not collapse the list either
        method, url, headers, body_, _post = api.param_serialize(
            "PATCH",
            path,
            query_params=[("fieldManager", "t"), ("force", "true")],
            header_params={"Content-Type": "application/apply-patch+yaml"},
            body=policy,
            auth_settings=["BearerToken"],
        )
        response = api.call_api(method, url, header_params=headers, body=body_)
        stored = json.loads(response.read())
    assert stored["spec"]["egress"][0]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
