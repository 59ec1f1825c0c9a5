"""One deploy form for an app with a domain: Service, Ingress with TLS, environment and files from
Secrets and ConfigMaps, all checked before anything is created."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from workloads import configs, services
from workloads.models import App

from .conftest import mirror_namespace, run, spec
from .test_secrets_configmaps import tls_pair

pytestmark = pytest.mark.django_db

FORM = {
    "name": "shop",
    "kind": "Deployment",
    "image": "nginx:1.27",
    "replicas": "1",
    "ports": "80",
    "cpu_request": "100m",
    "cpu_limit": "200m",
    "memory_request": "64Mi",
    "memory_limit": "128Mi",
}


@pytest.fixture
def configured(project, dev):
    cert, key = tls_pair()
    configs.create_secret(
        project, acting_user=dev, name="shop-tls", secret_type="kubernetes.io/tls", tls_cert=cert, tls_key=key
    )
    configs.create_secret(project, acting_user=dev, name="db", secret_type="Opaque", data={"DB_PASSWORD": "pw"})
    configs.create_configmap(project, acting_user=dev, name="settings", data={"MODE": "prod", "app.conf": "x=1\n"})
    mirror_namespace(project.cluster, project.name, kinds=("ConfigMap",))
    return project


def test_the_deploy_form_deploys_an_app_with_a_domain_env_and_files(client, cluster, configured, dev):
    project = configured
    client.force_login(dev)
    form_page = client.get(reverse("workloads:app_add", args=[project.tenant.name, project.name])).content.decode()
    assert (
        'value="shop-tls"' in form_page
        and 'value="ConfigMap/settings"' in form_page
        and 'value="Secret/db"' in form_page
    )
    response = client.post(
        reverse("workloads:app_add", args=[project.tenant.name, project.name]),
        {
            **FORM,
            "env_from": ["ConfigMap/settings", "Secret/db"],
            "mount_0_source": "ConfigMap/settings",
            "mount_0_path": "/etc/shop",
            "service_type": "ClusterIP",
            "service_port": "8080",
            "host": "Shop.Example.com",
            "path": "/",
            "tls_secret": "shop-tls",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    app = App.objects.get(project=project, name="shop")
    job = run(Job.objects.get(kind="app.deploy", target_name="shop"))
    assert job.status == "succeeded", job.error
    with ClusterAPI(cluster) as api:
        deployment = api.get("Deployment", "shop", project.name)
        service = api.get("Service", "shop", project.name)
        ingress = api.get("Ingress", "shop", project.name)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["envFrom"] == [{"configMapRef": {"name": "settings"}}, {"secretRef": {"name": "db"}}]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "config-0", "mountPath": "/etc/shop", "readOnly": True}]
    assert [(v["name"], v["configMap"]["name"]) for v in pod["volumes"]] == [("config-0", "settings")]
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["ports"][0]["port"] == 8080
    assert service["spec"]["ports"][0]["targetPort"] == 80
    assert ingress["spec"]["rules"][0]["host"] == "shop.example.com"
    assert ingress["spec"]["tls"] == [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]
    app.refresh_from_db()
    assert app.service["port"] == 8080 and app.ingress == {
        "host": "shop.example.com",
        "path": "/",
        "tls_secret": "shop-tls",
    }
    # what runs reads back into the same spec: an upgrade keeps the environment and the files
    spec_back = services.manifests.spec_from_workload(deployment, "Deployment")
    assert spec_back["env_from"] == [{"kind": "ConfigMap", "name": "settings"}, {"kind": "Secret", "name": "db"}]
    assert spec_back["config_volumes"] == [{"kind": "ConfigMap", "name": "settings", "mount_path": "/etc/shop"}]
    upgrade_page = client.get(
        reverse("workloads:app_upgrade", args=[project.tenant.name, project.name, "shop"])
    ).content.decode()
    assert 'value="ConfigMap/settings" selected' in upgrade_page


def test_a_taken_host_is_refused_before_anything_is_created(client, cluster, configured, dev):
    project = configured
    first, job = services.deploy_app(
        project,
        acting_user=dev,
        name="old",
        kind="Deployment",
        spec=spec(replicas=1),
        exposure={"service_type": "ClusterIP", "port": 80, "host": "shop.example.com", "path": "/"},
    )
    assert run(job).status == "succeeded"
    mirror_namespace(cluster, project.name, kinds=("Ingress",))
    client.force_login(dev)
    response = client.post(
        reverse("workloads:app_add", args=[project.tenant.name, project.name]),
        {**FORM, "service_type": "ClusterIP", "service_port": "80", "host": "shop.example.com", "path": "/"},
    )
    assert response.status_code == 400
    assert "shop.example.com/ is served by another ingress already" in response.content.decode()
    assert not App.objects.filter(name="shop").exists() and not Job.objects.filter(target_name="shop").exists()
    with ClusterAPI(cluster) as api:
        assert api.get("Deployment", "shop", project.name) is None


@pytest.mark.parametrize(
    "exposure,changes,message",
    [
        ({"service_type": "", "host": "shop.example.com"}, {}, "An ingress needs a Service"),
        (
            {"service_type": "ClusterIP", "port": 80, "host": "shop.example.com", "tls_secret": "nope"},
            {},
            "no Secret named nope",
        ),
        ({}, {"env_from": [{"kind": "ConfigMap", "name": "missing"}]}, "no ConfigMap named missing"),
        ({}, {"config_volumes": [{"kind": "Secret", "name": "db", "mount_path": "relative"}]}, "must be absolute"),
        ({}, {"config_volumes": [{"kind": "Pod", "name": "db", "mount_path": "/x"}]}, "Use a Secret or a ConfigMap"),
    ],
)
def test_bad_exposure_or_references_are_refused(configured, dev, exposure, changes, message):
    with pytest.raises(ValidationError) as refused:
        services.deploy_app(
            configured, acting_user=dev, name="shop", kind="Deployment", spec=spec(**changes), exposure=exposure
        )
    assert message in " ".join(refused.value.messages)
    assert not App.objects.filter(name="shop").exists()
