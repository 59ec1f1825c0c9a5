"""Celery work of alerts: evaluating every rule (beat, every ALERT_EVALUATION_SECONDS)."""

import logging

from celery import shared_task

from . import evaluate

log = logging.getLogger(__name__)


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=3)
def evaluate_alerts() -> dict:
    report = evaluate.evaluate()
    if report.fired or report.resolved:
        log.info("alerts: %s fired, %s resolved (%s rules)", len(report.fired), len(report.resolved), report.rules)
    return {"rules": report.rules, "fired": len(report.fired), "resolved": len(report.resolved)}
