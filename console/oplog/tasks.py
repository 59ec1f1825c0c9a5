"""Celery work of the operation log: checking the hash chain, on request and nightly."""

import logging

from celery import shared_task
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from console.choices import NotificationLevel, OperationResult, PlatformRole, VerificationStatus
from console.live import realtime
from console.notifications import notifications
from console.oplog import oplog
from console.oplog.models import ChainVerification
from console.texts import Text, message

log = logging.getLogger(__name__)

INTACT = message("Operation log intact: %(count)s entries checked")
BROKEN = message("Operation log broken at entry #%(id)s")
CHECK_FAILED = message("Operation log check failed")


@shared_task(bind=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def verify_operation_log(self, verification_id):
    """Check the chain for one request. Safe to run twice: a finished request is left alone."""
    with transaction.atomic():
        verification = ChainVerification.objects.select_for_update().filter(pk=verification_id).first()
        if verification is None or verification.status in VerificationStatus.terminal():
            return
        verification.status = VerificationStatus.RUNNING
        verification.save(update_fields=["status"])
    try:
        report = oplog.verify_chain()
    except Exception as exc:
        log.exception("chain verification %s failed", verification_id)
        finish_verification(verification, VerificationStatus.ERROR, reason=f"{type(exc).__name__}: {exc}")
        raise
    status = VerificationStatus.INTACT if report.intact else VerificationStatus.BROKEN
    finish_verification(
        verification, status, checked=report.checked, first_broken_id=report.first_broken_id, reason=report.reason
    )


def finish_verification(verification, status, *, checked=0, first_broken_id=None, reason=""):
    with transaction.atomic():
        verification.status = status
        verification.checked = checked
        verification.first_broken_id = first_broken_id
        verification.reason = reason
        verification.finished_at = timezone.now()
        verification.save()
        oplog.record(
            None,
            "oplog.verify.finished",
            actor_name="system",
            result=OperationResult.SUCCEEDED if status == VerificationStatus.INTACT else OperationResult.FAILED,
            target={"kind": "OperationLog"},
            payload={"verification": verification.pk, "checked": checked, "first_broken_id": first_broken_id},
            error=reason,
        )
        link = reverse("console:oplog")
        requester = verification.requested_by
        title, level = verification_title(verification)
        body = Text(reason) if reason else ""  # the chain's own reasons are message ids (gettext_noop)
        if requester is not None:
            notifications.notify_user(requester, title, body=body, level=level, link=link)
            html = realtime.render_for(
                requester, "console/_verification.html", {"verification": verification, "oob": True}
            )
            realtime.push_html(realtime.user_group(requester.pk), html)
        elif status != VerificationStatus.INTACT:
            for role in (PlatformRole.AUDITOR, PlatformRole.OPERATOR):
                notifications.notify_role(role, title, body=body, level=level, link=link)


def verification_title(verification):
    if verification.status == VerificationStatus.INTACT:
        return INTACT(count=verification.checked), NotificationLevel.SUCCESS
    if verification.status == VerificationStatus.BROKEN:
        return BROKEN(id=verification.first_broken_id), NotificationLevel.DANGER
    return CHECK_FAILED(), NotificationLevel.DANGER


@shared_task
def verify_operation_log_scheduled():
    """Beat runs this nightly; a broken chain alerts every auditor and operator."""
    verification = ChainVerification.objects.create(requested_by=None)
    verify_operation_log(verification.pk)
