"""The CSI-only path in the browser: the console (daphne and its Celery worker) has no Ceph
settings, the cluster serves snapshot.storage.k8s.io. A tenant admin creates a volume, backs it
up twice from the chain page and sees both VolumeSnapshots arrive live (a flat chain: each one
full), then restores the first into a new volume. The sandbox's ceph-csi works on the test
suite's real Ceph, so the test checks the restored bytes through its own gateway."""

import random
import uuid

import pytest
from playwright.sync_api import expect

from console.ceph.errors import CephError
from console.ceph.gateway import Ceph
from console.sandbox import CephOptions, SandboxCluster
from workloads.storage.choices import BackupMethod
from workloads.storage.models import Backup, Volume

from .. import live
from ..conftest import KEY_PREFIX
from ..factories import PASSWORD, mk_cluster, mk_member, mk_user
from .conftest import acme_namespace, fill, screenshot, sign_in
from .test_storage_in_browser import WITH_STORAGE, nodes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MIB = 1 << 20
LIVE = 30_000


@pytest.fixture(scope="module")
def sandbox(ceph_cluster):
    options = CephOptions(ceph_cluster.conf, ceph_cluster.keyring, ceph_cluster.client, pool=ceph_cluster.pool)
    with SandboxCluster(nodes=1, clock_speed=20, ceph=options) as cluster:
        yield cluster


@pytest.fixture
def csi_console(live_env, settings):
    """daphne and a worker without any Ceph settings, on a queue of their own."""
    settings.CEPH_CONF = settings.CEPH_KEYRING = ""
    with live.own_queue(f"{KEY_PREFIX}-csi-e2e-{uuid.uuid4().hex[:6]}") as queue:
        env = {
            **live_env,
            "CEPH_CONF": "",
            "CEPH_KEYRING": "",
            "CONSOLE_KEY_PREFIX": queue,
            "CAAS_ROLLOUT_TIMEOUT": "60",
        }
        with live.celery_worker(env, "csi-e2e") as worker, live.daphne_server(env, "csi-e2e") as url:
            yield url, worker


@pytest.fixture
def tenant_ns(sandbox, csi_console, ceph_cluster):
    """Tenant acme (admin wile, member coyote) and its namespace; the RBD images ceph-csi made
    for the test are removed from the shared Ceph at the end."""
    _url, worker = csi_console
    with Ceph(ceph_cluster) as ceph:
        before = set(ceph.images())
    cluster = mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
    tenant, project = acme_namespace(
        cluster,
        mk_user("c-op", "operator"),
        "csi",
        **WITH_STORAGE,
        default_limit_range=None,
        timeout=60,
        worker_log=lambda: live.read_log(worker),
    )
    mk_member(tenant, "wile", "tenant-admin", password=PASSWORD)
    mk_member(tenant, "coyote", password=PASSWORD)
    yield project
    with Ceph(ceph_cluster) as ceph:
        for _ in range(3):  # clones before the images they were cloned from
            for image in set(ceph.images()) - before:
                try:
                    ceph.remove_image(image, with_snapshots=True)
                except CephError:
                    pass


def test_backups_through_volume_snapshots_in_the_browser(pages_csi, tenant_ns, ceph_cluster):
    project = tenant_ns
    page = sign_in(pages_csi(), "wile")
    page.goto(f"/storage/acme/{project.name}/volumes/")
    fill(page, {"#id_name": "data", "#id_size": "64Mi"}, submit="#volume-form button[type=submit]")
    expect(page.locator("[data-testid=volume-status]")).to_have_text("Ready", timeout=LIVE)
    volume = Volume.objects.get(name="data")
    rng = random.Random(3)
    sums = []
    watcher = sign_in(pages_csi(locale="zh-CN"), "coyote")
    watcher.goto(f"/storage/acme/{project.name}/volumes/data/")
    with Ceph(ceph_cluster) as ceph:
        for number in (1, 2):
            ceph.write(volume.image, (number - 1) * MIB, rng.randbytes(MIB), pool=volume.pool)
            sums.append(ceph.checksum(volume.image, pool=volume.pool))
            page.click("[data-testid=backup-now]")
            expect(nodes(page)).to_have_count(number)
            node = Backup.objects.filter(volume=volume).order_by("-pk").first()
            for each in (page, watcher):
                card = each.locator(f"#backup-{node.pk}")
                expect(card).to_have_attribute("data-status", "succeeded", timeout=LIVE)
                expect(card).to_have_attribute("data-method", "csi")
                expect(card.locator("[data-testid=backup-snapshot]")).to_contain_text(node.snapshot)
    chain = list(Backup.objects.filter(volume=volume).order_by("pk"))
    assert [(n.method, n.kind, n.parent_id) for n in chain] == [(BackupMethod.CSI, "full", None)] * 2
    expect(page.locator("#backup-chain .backup-link")).to_have_text("|")  # flat: no ← between them
    page.reload()
    expect(page.locator("[data-testid=backup-method]")).to_have_attribute("data-method", "csi", timeout=LIVE)
    expect(page.locator(f"#backup-{chain[0].pk} [data-testid=backup-restore]")).to_be_visible()
    screenshot(page, "storage-csi-chain-en")
    watcher.reload()
    expect(watcher.locator(f"#backup-{chain[0].pk} [data-testid=backup-restore]")).to_be_visible()
    screenshot(watcher, "storage-csi-chain-zh")

    first = page.locator(f"#backup-{chain[0].pk}")
    first.locator("input[name=name]").fill("data-copy")
    first.locator("[data-testid=backup-restore]").click()
    expect(page.locator("h1")).to_have_text("data-copy")
    expect(page.locator("[data-testid=volume-status]")).to_have_text("Ready", timeout=LIVE)
    copy = Volume.objects.get(name="data-copy")
    page.goto("/storage/")  # the Storage page says which way each cluster's volumes are backed up
    expect(page.locator("#backup-method-table tr[data-cluster=sandbox]")).to_have_attribute("data-method", "csi")
    screenshot(page, "storage-list-csi-en")
    with Ceph(ceph_cluster) as ceph:
        assert ceph.checksum(copy.image, pool=copy.pool) == sums[0] != sums[1]


@pytest.fixture
def pages_csi(browser, csi_console):
    url, _worker = csi_console
    contexts = []

    def make(locale="en-US"):
        context = browser.new_context(base_url=url, locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
