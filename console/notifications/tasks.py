"""Celery work of the notification channels: one task per channel's due message, and a beat
sweep that sends what a lost task left waiting."""

from celery import shared_task

from . import delivery


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def deliver_channel(channel_id: int) -> str:
    return delivery.send_due(channel_id)


@shared_task
def deliver_due() -> int:
    due = delivery.channels_with_due()
    for channel_id in due:
        deliver_channel.delay(channel_id)
    return len(due)
