"""mk_* makes one object; create_* composes (AWX style)."""

from django.contrib.auth import get_user_model

PASSWORD = "Correct-Horse-9-Battery"


def mk_user(username, role="", password=PASSWORD, **extra):
    return get_user_model().objects.create_user(username=username, password=password, platform_role=role, **extra)


def signed_in_client(client, user):
    client.force_login(user)
    return client


def mk_cluster(name="c1", kubeconfig_text=None):
    """A registered cluster; without a kubeconfig it can be listed but not reached."""
    from console import crypto
    from console.clusters.models import Cluster

    text = kubeconfig_text or "apiVersion: v1\nclusters: []\n"
    return Cluster.objects.create(
        name=name, server="https://127.0.0.1:1", context="sandbox", kubeconfig_encrypted=crypto.encrypt(text)
    )


def mk_tenant(name, *, clusters=(), **fields):
    from tenants.models import Tenant

    tenant = Tenant.objects.create(name=name, display_name=fields.pop("display_name", name.title()), **fields)
    tenant.clusters.set(clusters)
    return tenant


def mk_member(tenant, username, role="tenant-member", password=None):
    from tenants.models import Membership

    user = mk_user(username, password=password)
    Membership.objects.create(tenant=tenant, user=user, role=role)
    return user


def mk_project(tenant, cluster, short_name, **fields):
    from tenants.models import Project

    return Project.objects.create(
        tenant=tenant,
        cluster=cluster,
        name=f"{tenant.name}-{short_name}",
        status=fields.pop("status", "active"),
        **fields,
    )


def mk_app(project, name="web", **fields):
    """A running Deployment app of nginx with one HTTP port, as the deploy form would store it."""
    from workloads.models import App

    spec = {"image": "nginx:1.27", "replicas": 1, "ports": [{"name": "http", "port": 80}]}
    return App.objects.create(
        project=project, name=name, kind="Deployment", status="running", spec=fields.pop("spec", spec), **fields
    )


def mk_mirrored_pod(cluster, namespace, name, phase="CrashLoopBackOff", *, app="web", created=None):
    """A pod as the resource mirror holds it (no cluster behind it): what the alert rules read."""
    from django.utils import timezone

    from console.clusters.models import MirroredObject

    return MirroredObject.objects.create(
        cluster=cluster,
        kind="Pod",
        api_version="v1",
        namespace=namespace,
        name=name,
        uid=f"uid-{cluster.pk}-{namespace}-{name}",
        resource_version="1",
        labels={"app.kubernetes.io/name": app},
        phase=phase,
        created_at=created or timezone.now(),
        object={"kind": "Pod", "metadata": {"name": name, "namespace": namespace}},
    )


def create_two_tenants():
    """acme (admin, member, namespace acme-web) and globex (a member): the isolation setup."""
    cluster = mk_cluster()
    acme, globex = mk_tenant("acme", clusters=[cluster]), mk_tenant("globex", clusters=[cluster])
    users = {
        "tenant_admin": mk_member(acme, "acme-admin", "tenant-admin"),
        "tenant_member": mk_member(acme, "acme-dev"),
        "other_member": mk_member(globex, "globex-dev", "tenant-admin"),
    }
    project = mk_project(acme, cluster, "web")
    mk_project(globex, cluster, "shop")
    return cluster, acme, globex, project, users
