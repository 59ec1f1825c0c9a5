from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import NotificationLevel
from console.texts import StoredTextField


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    level = models.CharField(max_length=16, choices=NotificationLevel.choices, default=NotificationLevel.INFO)
    # console.texts Texts, translated for each reader; plain text from operators (notices) and older rows
    title = StoredTextField(_("title"))
    body = StoredTextField(_("message"), blank=True)
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self):
        return str(self.title)

    @property
    def is_read(self):
        return self.read_at is not None
