"""The change-cause annotation (`kubectl rollout history`) is English whatever language the
requester used; the console's revision list shows it in the reader's language."""

import pytest
from django.utils import translation

from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from workloads import manifests, selectors, services

from .conftest import mirror_namespace, run, spec

pytestmark = pytest.mark.django_db


def test_a_chinese_request_stores_the_english_cause_and_the_revision_list_translates_it(cluster, project, dev):
    dev.language = "zh-hans"  # what the job speaks: the requester's language
    dev.save(update_fields=["language"])
    with translation.override("zh-hans"):
        app, job = services.deploy_app(project, acting_user=dev, name="web", kind="Deployment", spec=spec())
        assert run(job).status == "succeeded", job.error
        app.refresh_from_db()
        upgrade = run(services.upgrade_app(app, acting_user=dev, spec=spec(image="nginx:1.28")))
        assert upgrade.status == "succeeded", upgrade.error

    upgraded = f"upgraded (image nginx:1.27 → nginx:1.28) by acme-dev (console job {upgrade.pk})"
    with ClusterAPI(cluster) as api:
        deployment = api.get("Deployment", "web", project.name)
        replicasets = api.list("ReplicaSet", project.name, label_selector="caas.io/app=web")
    assert deployment["metadata"]["annotations"][manifests.CHANGE_CAUSE] == upgraded
    causes = {rs["metadata"]["annotations"].get(manifests.CHANGE_CAUSE) for rs in replicasets}
    assert causes == {f"deployed nginx:1.27 by acme-dev (console job {job.pk})", upgraded}
    notes = OperationLogEntry.objects.filter(action="app.revision").values_list("after__note", flat=True)
    assert set(notes) == causes  # the operation log keeps the English text too

    mirror_namespace(cluster, project.name)
    with translation.override("zh-hans"):
        shown = [r.change_cause for r in selectors.live_context(app)["revisions"]]
    assert shown == [
        f"由 acme-dev 升级（image nginx:1.27 → nginx:1.28）（控制台任务 {upgrade.pk}）",
        f"由 acme-dev 部署 nginx:1.27（控制台任务 {job.pk}）",
    ]
    with translation.override("en"):
        assert [r.change_cause for r in selectors.live_context(app)["revisions"]] == [
            upgraded,
            f"deployed nginx:1.27 by acme-dev (console job {job.pk})",
        ]


def test_causes_written_before_and_outside_the_console_show_as_they_are():
    assert manifests.cause_shown({"note": "deployed by hand"}) == "deployed by hand"
    assert manifests.cause_shown(None) == ""
    with translation.override("zh-hans"):
        assert manifests.cause_annotation("kubectl edit") == "kubectl edit"
        assert manifests.cause_annotation(manifests.CAUSE_RESTORED(job=7)) == "restored by the console (console job 7)"
        assert (
            manifests.cause_shown(manifests.cause_note(manifests.CAUSE_RESTORED(job=7)))
            == "由控制台恢复（控制台任务 7）"
        )
