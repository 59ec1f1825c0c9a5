"""A tenant admin creates the volume of a stateful app, backs it up three times and watches
the chain grow live, rolls it back to the second backup (the app scaled to zero meanwhile)
and restores the first into a new volume; a teammate's page, opened before and never
reloaded, sees every node arrive over the websocket. Real daphne, a real Celery worker on
the `ceph` queue, the sandbox's ceph-csi making REAL RBD images on the test suite's Ceph;
the volume's data is written and checked through the Ceph gateway."""

import random
import time
import uuid

import pytest
from playwright.sync_api import expect

from console.ceph.gateway import Ceph
from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.sandbox import CephOptions, SandboxCluster
from workloads import services as app_services
from workloads import specs
from workloads.storage.choices import VolumeStatus
from workloads.storage.models import Backup, Volume

from .. import live
from ..conftest import KEY_PREFIX
from ..factories import PASSWORD, mk_cluster, mk_member, mk_user
from .conftest import acme_namespace, fill, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MIB = 1 << 20
LIVE = 30_000  # ms: a job on the worker, then its push


# a tenant whose namespace may hold volumes
WITH_STORAGE = {
    "limits": {"cpu": "4", "memory": "8Gi", "pods": "20", "storage": "10Gi"},
    "default_quota": {"cpu": "2", "memory": "4Gi", "pods": "10", "storage": "2Gi"},
}


@pytest.fixture(scope="module")
def sandbox(ceph_cluster):
    """The sandbox whose ceph-csi makes each claim's real RBD image on the test suite's Ceph."""
    options = CephOptions(ceph_cluster.conf, ceph_cluster.keyring, ceph_cluster.client, pool=ceph_cluster.pool)
    with SandboxCluster(nodes=1, clock_speed=20, ceph=options) as cluster:
        yield cluster


@pytest.fixture
def storage_console(live_env, ceph_cluster, settings):
    """daphne and a Celery worker (it consumes the `ceph` queue too) with the Ceph settings, on
    queues and channel groups of their own: the session's live console has no Ceph."""
    ceph = {
        "CEPH_CONF": ceph_cluster.conf,
        "CEPH_KEYRING": ceph_cluster.keyring,
        "CEPH_CLIENT": ceph_cluster.client,
        "CEPH_POOL": ceph_cluster.pool,
        "CEPH_BACKUP_POOL": ceph_cluster.backup_pool,
    }
    for name, value in ceph.items():
        setattr(settings, name, value)
    with live.own_queue(f"{KEY_PREFIX}-storage-e2e-{uuid.uuid4().hex[:6]}") as queue:
        env = {**live_env, **ceph, "CONSOLE_KEY_PREFIX": queue, "CAAS_ROLLOUT_TIMEOUT": "60"}
        with live.celery_worker(env, "storage-e2e") as worker, live.daphne_server(env, "storage-e2e") as url:
            yield url, worker


@pytest.fixture
def pages(browser, storage_console):
    url, _worker = storage_console
    contexts, refused = [], []

    def make(locale="en-US"):
        context = browser.new_context(base_url=url, locale=locale, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
        return page

    yield make
    for context in contexts:
        context.close()
    assert refused == [], refused


@pytest.fixture
def acme_db(sandbox, storage_console):
    """Tenant acme: admin wile, member coyote, namespace acme-db provisioned by the worker."""
    _url, worker = storage_console
    cluster = mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
    tenant, project = acme_namespace(
        cluster, mk_user("s-op", "operator"), "db", **WITH_STORAGE, timeout=60, worker_log=lambda: live.read_log(worker)
    )
    admin = mk_member(tenant, "wile", "tenant-admin", password=PASSWORD)
    mk_member(tenant, "coyote", password=PASSWORD)
    yield project, admin, cluster
    images = list(Volume.objects.exclude(image="").values_list("image", flat=True))
    with ClusterAPI(cluster) as api:  # the StatefulSet's other claim, which no console volume maps
        for claim in api.list("PersistentVolumeClaim", project.name):
            pv = api.get("PersistentVolume", claim["spec"].get("volumeName") or "-") or {}
            images.append(((pv.get("spec") or {}).get("csi") or {}).get("volumeAttributes", {}).get("imageName"))
    with Ceph() as ceph:  # nothing of this test stays on the shared Ceph
        for image in {image for image in images if image}:
            for backup in ceph.backups(image=image):
                ceph.remove_backup(backup.name)
            if image in ceph.images():
                ceph.remove_image(image, with_snapshots=True)


def db_spec():
    spec = specs.empty_spec()
    spec.update(
        image="nginx:1.27",
        replicas=2,
        ports=[{"name": "http", "port": 80}],
        resources={"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        volumes=[{"name": "data", "mount_path": "/var/lib/data", "size": "64Mi"}],
    )
    return spec


# Each link arrow (←, or | before a new full chain) sits on the same line as the node after it,
# right before it, and that node fits the screen.
ARROWS_BESIDE_THEIR_NODES = """() => [...document.querySelectorAll('#backup-chain .backup-link')].map(arrow => {
  const a = arrow.getBoundingClientRect(), card = arrow.nextElementSibling.getBoundingClientRect();
  return a.right <= card.left + 1 && a.top >= card.top && a.bottom <= card.bottom
    && card.right <= document.documentElement.clientWidth;
})"""


def never_reloaded(page):
    return page.evaluate("performance.getEntriesByType('navigation').length") == 1 and page.evaluate("window.__kept")


def nodes(page):
    return page.locator("[data-testid=backup-node]")


def node_card(page, backup):
    return page.locator(f"#backup-{backup.pk}")


def test_backup_chain_grows_live_rolls_back_and_restores(pages, storage_console, acme_db):
    _url, worker = storage_console
    project, admin, cluster = acme_db
    rng = random.Random(13)

    # The admin creates the volume the StatefulSet "db" will claim for its first pod (data-db-0).
    page = sign_in(pages(), "wile")
    page.click("#main-nav >> text=Storage")
    page.click("#volume-menu")
    page.click("text=in acme-db on sandbox")
    fill(page, {"#id_name": "data-db-0", "#id_size": "64Mi"}, submit="#volume-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("data-db-0")
    # Creating → Ready arrives over the websocket (the claim is bound, its RBD image made)
    expect(page.locator("[data-testid=volume-status]")).to_have_text("Ready", timeout=LIVE)
    expect(page.locator("#volume-facts code")).to_contain_text("rbd/csi-vol-")  # mapped to its image, live too
    volume = Volume.objects.get(name="data-db-0")
    assert volume.status == VolumeStatus.READY

    # The stateful app that mounts it (two replicas; db-1 gets a claim of its own).
    app, job = app_services.deploy_app(project, acting_user=admin, name="db", kind="StatefulSet", spec=db_spec())
    deadline = time.monotonic() + 90
    while Job.objects.get(pk=job.pk).status != "succeeded":
        assert time.monotonic() < deadline, (Job.objects.get(pk=job.pk).error, live.read_log(worker))
        time.sleep(0.2)

    # A teammate follows the volume's page in Chinese; it is never reloaded.
    watcher = sign_in(pages(locale="zh-CN"), "coyote")
    watcher.goto(f"/storage/acme/{project.name}/volumes/data-db-0/")
    expect(watcher.locator("html")).to_have_attribute("lang", "zh-hans")
    watcher.evaluate("window.__kept = true")
    expect(nodes(watcher)).to_have_count(0)

    checksums = []
    with Ceph() as ceph:
        for number in (1, 2, 3):
            # what db-0 wrote since the last backup (through the gateway: the sandbox's pods write nothing)
            ceph.write(volume.image, (number - 1) * 4 * MIB, rng.randbytes(3 * MIB), pool=volume.pool)
            checksums.append(ceph.checksum(volume.image, pool=volume.pool))
            page.click("[data-testid=backup-now]")
            page.evaluate("window.__kept = true")  # set after the form's round trip: from here on, live only
            expect(nodes(page)).to_have_count(number)
            node = Backup.objects.filter(volume=volume).order_by("-pk").first()
            for each in (page, watcher):
                expect(node_card(each, node)).to_have_attribute("data-status", "succeeded", timeout=LIVE)
                checksum = node_card(each, node).locator(
                    "div[title]", has=each.locator("[data-testid=backup-checksum]")
                )
                expect(checksum).to_have_attribute("title", checksums[-1])  # the content at the snapshot
                expect(nodes(each)).to_have_count(number)
            assert never_reloaded(page) and never_reloaded(watcher)
    chain = list(Backup.objects.filter(volume=volume).order_by("pk"))
    assert [node.kind for node in chain] == ["full", "incremental", "incremental"]
    assert [node.parent_id for node in chain] == [None, chain[0].pk, chain[1].pk]
    assert [node.checksum for node in chain] == checksums
    expect(node_card(watcher, chain[1]).locator("[data-testid=backup-status]")).to_have_text("成功")

    # Roll back to the second node: confirm, and let the app be scaled to zero meanwhile.
    with Ceph() as ceph:
        ceph.write(volume.image, 20 * MIB, rng.randbytes(MIB), pool=volume.pool)  # written after the last backup
    second = node_card(page, chain[1])
    second.locator("input[name=confirm]").first.check()
    second.locator("input[name=scale_down]").check()
    second.locator("[data-testid=backup-rollback]").click()
    expect(page.locator(".alert[role=status]").first).to_contain_text(f"Rolling data-db-0 back to backup {chain[1]}")
    page.evaluate("window.__kept = true")
    expect(page.locator("[data-testid=volume-status]")).to_have_text("Ready", timeout=LIVE)
    expect(watcher.locator("[data-testid=volume-status]")).to_have_text("就绪", timeout=LIVE)
    rollback = Job.objects.filter(kind="backup.rollback").get()
    assert rollback.status == "succeeded", rollback.error
    with Ceph() as ceph:
        assert ceph.checksum(volume.image, pool=volume.pool) == chain[1].checksum == checksums[1]
    with ClusterAPI(cluster) as api:
        assert api.get("StatefulSet", "db", project.name)["spec"]["replicas"] == 2  # back to its replicas
    assert never_reloaded(page) and never_reloaded(watcher)
    screenshot(page, "storage-volume-chain-en")
    screenshot(watcher, "storage-volume-chain-zh")
    for width in (1280, 390):  # the chain wraps on narrow screens; an arrow never leaves its node
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate(ARROWS_BESIDE_THEIR_NODES) == [True, True], width
        screenshot(page, f"storage-volume-chain-{width}px")
    page.set_viewport_size({"width": 1400, "height": 900})

    # Restore the first node into a new volume.
    first = node_card(page, chain[0])
    first.locator("input[name=name]").fill("data-restored")
    first.locator("[data-testid=backup-restore]").click()
    expect(page.locator("h1")).to_have_text("data-restored")
    expect(page.locator("#volume-facts")).to_contain_text(f"restored from backup {chain[0]}")
    expect(page.locator("[data-testid=volume-status]")).to_have_text("Ready", timeout=LIVE)
    restored = Volume.objects.get(name="data-restored")
    assert restored.restored_from_id == chain[0].pk and restored.image != volume.image
    with Ceph() as ceph:
        assert ceph.checksum(restored.image, pool=restored.pool) == chain[0].checksum == checksums[0]
    screenshot(page, "storage-volume-restored-en")
