"""Job steps and errors, and notifications, are stored as message ids with parameters
(console.texts) and read in each reader's language: pages, and live pushes too."""

import importlib
import logging
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from console import texts
from console.jobs import jobs
from console.jobs.models import Job
from console.live import realtime
from console.live.consumers import LiveConsumer
from console.notifications import notifications
from console.notifications.models import Notification

from ..factories import mk_user
from ..live import run_async

ROOT = Path(__file__).resolve().parents[2]
APPS = ("console", "tenants", "workloads", "monitoring")
LANGUAGES = ("en", "zh-hans")


def load_every_definition():
    """Import every module that defines stored sentences (loading the apps imports most of them)."""
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "sandbox" in parts or "migrations" in parts:
                continue
            if "console.texts import" in path.read_text(encoding="utf-8"):
                importlib.import_module(".".join(parts))


def sample(definition, count):
    return {name: count if name == definition.count else f"<{name}>" for name in definition.names}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_registered_sentence_renders_with_its_parameters(language, caplog):
    load_every_definition()
    definitions = texts.registered()
    assert len(definitions) > 60, "the definitions were not loaded"
    with translation.override(language), caplog.at_level(logging.WARNING, logger="console.texts"):
        for definition in definitions:
            for count in (1, 2) if definition.plural else (None,):
                params = sample(definition, count)
                shown = str(definition(**params))
                assert "None" not in shown and "%(" not in shown, (definition.msgid, shown)
                for name, value in params.items():  # the translation keeps every parameter
                    assert str(value) in shown, (definition.msgid, name, shown)
    assert not caplog.records, "translations that do not fit their parameters"


def test_a_parameter_may_not_be_none_nor_missing():
    with pytest.raises(ValueError, match="'before' is None"):
        _scaled(before=None)  # never "web scaled from None to 3 replicas"
    with pytest.raises(TypeError, match="takes"):
        jobs.APPLIED(kind="Service")


def _scaled(**changes):
    from workloads.tasks import APP_SCALED

    return APP_SCALED(**{"app": "web", "before": 2, "after": 3, **changes})


def test_a_stored_text_keeps_references_and_plurals_and_survives_the_database(operator):
    from workloads.choices import ScaleReason
    from workloads.tasks import PODS_STOPPING, SCALED_BY

    body = SCALED_BY(why=ScaleReason.MANUAL.label, who="acme-dev", ns="acme-web")  # a lazy label: kept as its msgid
    note = notifications.notify_user(operator, _scaled(), body=body)
    note = Notification.objects.get(pk=note.pk)
    assert note.title == _scaled() and note.body == body
    with translation.override("en"):
        assert (str(note.title), str(note.body)) == (
            "web scaled from 2 to 3 replicas",
            "Scaled by hand, by acme-dev, in acme-web.",
        )
        assert [str(PODS_STOPPING(count=n)) for n in (1, 3)] == ["1 pod still stopping", "3 pods still stopping"]
    with translation.override("zh-hans"):
        assert "acme-dev" in str(note.body) and "by hand" not in str(note.body)


def test_rows_written_before_hold_plain_text_and_still_show(operator):
    job = Job.objects.create(
        kind="namespace.update",
        requested_by=operator,
        status="failed",
        error="旧的错误",
        steps=[{"at": "2026-01-01T00:00:00+00:00", "text": "已应用 Namespace web", "ok": True}],
    )
    Notification.objects.create(user=operator, title="Deployment web scaled", body="2 → 5 replicas")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(operator)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "已应用 Namespace web" in page and "旧的错误" in page
    page = client.get("/notifications/").content.decode()
    assert "Deployment web scaled" in page and "2 → 5 replicas" in page


def test_a_job_run_for_a_chinese_speaker_reads_in_english_for_an_english_reader(cluster, operator):
    from tenants import services
    from tenants.tasks import run_tenant_job

    operator.language = "zh-hans"
    operator.save(update_fields=["language"])
    tenant = services.create_tenant(acting_user=operator, name="acme", display_name="Acme", clusters=[cluster])
    _project, job = services.create_project(tenant, acting_user=operator, cluster=cluster, short_name="web")
    run_tenant_job.apply(args=[job.pk])
    assert Job.objects.get(pk=job.pk).status == "succeeded"

    reader = mk_user("reader", "auditor")
    pages = {}
    for language in ("en", "zh-CN"):
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        client.force_login(reader)
        pages[language] = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Applied Namespace acme-web" in pages["en"] and "Namespace acme-web is ready." in pages["en"]
    assert "已应用" not in pages["en"] and "已就绪" not in pages["en"]
    assert "已应用 Namespace acme-web" in pages["zh-CN"] and "Namespace acme-web is ready." not in pages["zh-CN"]


def test_live_pushes_reach_each_reader_in_the_language_of_their_page(
    monkeypatch, operator, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(realtime, "send_now", lambda group, html, languages=None: sent.append((group, html, languages)))
    job = Job.objects.create(kind="namespace.update", requested_by=operator, status="running", owner="here pid 1")
    with django_capture_on_commit_callbacks(execute=True):
        jobs.step(job, jobs.APPLIED(kind="Service", name="web"))
    group, html, languages = sent[-1]
    assert group == f"job-{job.pk}" and set(languages) == {"en", "zh-hans"}
    assert "Applied Service web" in languages["en"] and "已应用 Service web" in languages["zh-hans"]

    received = []
    for language in LANGUAGES:
        consumer = LiveConsumer()
        consumer.language = language

        async def send(text_data, received=received):
            received.append(text_data)

        consumer.send = send
        run_async(consumer.push_html({"type": "push.html", "html": html, "languages": languages}))
    assert received == [languages["en"], languages["zh-hans"]]
