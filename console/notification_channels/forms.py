from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console.accounts import roles
from console.choices import NotificationLevel
from console.forms import BootstrapMixin
from console.notifications.models import Channel, ChannelKind, Topic

from . import services

PLATFORM = "platform"


class ChannelForm(BootstrapMixin, forms.Form):
    """A channel's settings. Its target and secret are never shown again: left empty when
    editing, they stay as they are."""

    owner = forms.ChoiceField(label=gettext_lazy("for"))
    name = forms.SlugField(label=gettext_lazy("name"), max_length=63)
    kind = forms.ChoiceField(label=gettext_lazy("kind"), choices=ChannelKind.choices)
    target = forms.CharField(
        label=gettext_lazy("addresses or URL"),
        max_length=1000,
        required=False,
        help_text=gettext_lazy("Email: addresses separated by commas. Webhooks: the URL the service gave you."),
    )
    secret = forms.CharField(
        label=gettext_lazy("signing secret (DingTalk)"),
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False),
    )
    topics = forms.MultipleChoiceField(
        label=gettext_lazy("takes"),
        choices=Topic.choices,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "list-unstyled mb-0"}),
        initial=[Topic.ALERT],
    )
    min_level = forms.ChoiceField(
        label=gettext_lazy("lowest level"), choices=NotificationLevel.choices, initial=NotificationLevel.WARNING
    )
    language = forms.ChoiceField(label=gettext_lazy("language"), choices=settings.LANGUAGES)
    group_seconds = forms.IntegerField(
        label=gettext_lazy("grouping window (seconds)"), min_value=0, max_value=3600, initial=30
    )
    dedup_seconds = forms.IntegerField(
        label=gettext_lazy("duplicates ignored for (seconds)"), min_value=0, max_value=7 * 24 * 3600, initial=3600
    )
    max_per_hour = forms.IntegerField(
        label=gettext_lazy("messages per hour at most"), min_value=1, max_value=3600, initial=20
    )
    all_tenants = forms.BooleanField(label=gettext_lazy("every tenant's notifications too"), required=False)
    enabled = forms.BooleanField(label=gettext_lazy("enabled"), required=False, initial=True)

    def __init__(self, data=None, files=None, *, user=None, channel: Channel | None = None):
        initial = {"language": getattr(user, "language", "") or settings.LANGUAGE_CODE}
        if channel is not None:
            initial.update(
                owner=str(channel.tenant_id) if channel.tenant_id else PLATFORM,
                name=channel.name,
                kind=channel.kind,
                topics=channel.topics,
                min_level=channel.min_level,
                language=channel.language,
                group_seconds=channel.group_seconds,
                dedup_seconds=channel.dedup_seconds,
                max_per_hour=channel.max_per_hour,
                all_tenants=channel.all_tenants,
                enabled=channel.enabled,
            )
        super().__init__(data, files, initial=initial)
        self.channel = channel
        owners = [(PLATFORM, _("the platform (operators)"))] if roles.is_operator(user) else []
        owners += [(str(pk), name) for pk, name in sorted(services.owner_tenants(user).items(), key=lambda kv: kv[1])]
        if channel is not None:
            for name in ("owner", "name", "kind"):
                self.fields[name].disabled = True
            self.fields["target"].help_text = _("Currently %(hint)s; leave empty to keep it.") % {
                "hint": channel.target_hint
            }
            owners = [
                (
                    initial["owner"],
                    channel.tenant_name or str(channel.tenant_id)
                    if channel.tenant_id
                    else _("the platform (operators)"),
                )
            ]
        else:
            self.fields["target"].required = True
        self.fields["owner"].choices = owners
        if not roles.is_operator(user):
            del self.fields["all_tenants"]

    def clean_owner(self):
        value = self.cleaned_data["owner"]
        if value == PLATFORM:
            return None
        if not value.isdigit():
            raise ValidationError(_("Choose whose channel this is."))
        return int(value)

    def arguments(self):
        data = self.cleaned_data
        values = {
            name: data.get(name)
            for name in (
                "target",
                "secret",
                "topics",
                "min_level",
                "language",
                "group_seconds",
                "dedup_seconds",
                "max_per_hour",
            )
        }
        values.update(enabled=data.get("enabled", False), all_tenants=data.get("all_tenants", False))
        if self.channel is None:
            values.update(tenant_id=data.get("owner"), name=data.get("name", ""), kind=data.get("kind", ""))
        return values
