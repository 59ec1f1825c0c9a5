from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from console.forms import BootstrapMixin, ConfirmForm

from . import specs
from .choices import AppKind, ServiceType

RESOURCE_FIELDS = {  # form field -> (section, resource)
    "cpu_request": ("requests", "cpu"),
    "cpu_limit": ("limits", "cpu"),
    "memory_request": ("requests", "memory"),
    "memory_limit": ("limits", "memory"),
}


def _text(label, help_text="", **kwargs):
    return forms.CharField(label=label, required=False, help_text=help_text, **kwargs)


def _port(label):
    return forms.IntegerField(label=label, required=False, min_value=1, max_value=65535)


class ColumnsMixin:
    """Where the page puts each field: COLUMNS names groups of (field, Bootstrap column) rows,
    which the templates loop over as `form.columns.<group>`."""

    COLUMNS = {}

    @property
    def columns(self):
        return {group: [(self[name], col) for name, col in rows] for group, rows in self.COLUMNS.items()}


class SpecForm(ColumnsMixin, BootstrapMixin, forms.Form):
    """The container: what deploying and upgrading both ask for."""

    image = forms.CharField(
        label=_("Image"), max_length=512, help_text=_("For example nginx:1.27 or registry.example.com/team/api:2.1")
    )
    ports = _text(
        _("Container ports"), _("Comma-separated, optionally named: 80 or http:8080, metrics:9090"), max_length=200
    )
    env = _text(_("Environment"), _("One KEY=value per line."), widget=forms.Textarea(attrs={"rows": 3}))
    env_secret = _text(
        _("Environment from Secret"),
        _("Name of an existing Secret in the namespace: each of its keys becomes a variable."),
        max_length=253,
    )
    cpu_request = _text(_("CPU request"), max_length=32)
    cpu_limit = _text(_("CPU limit"), max_length=32)
    memory_request = _text(_("Memory request"), max_length=32)
    memory_limit = _text(_("Memory limit"), max_length=32)
    liveness_path = _text(_("Liveness probe path"), _("HTTP GET; empty: no probe."), max_length=200)
    liveness_port = _port(_("Liveness probe port"))
    readiness_path = _text(_("Readiness probe path"), _("HTTP GET; empty: no probe."), max_length=200)
    readiness_port = _port(_("Readiness probe port"))
    command = _text(_("Command"), _("Overrides the image's entrypoint, split like a shell would."), max_length=1000)
    args = _text(_("Arguments"), max_length=2000)
    run_as_user = forms.IntegerField(
        label=_("Run as user (UID)"),
        required=False,
        min_value=0,
        max_value=specs.MAX_UID,
        help_text=_(
            "Empty: the image's own user, which must not be root. 0 (root) only where the "
            "tenant's Pod Security level is baseline."
        ),
    )
    env_from = forms.MultipleChoiceField(
        label=_("Environment from Secrets and ConfigMaps"),
        required=False,
        help_text=_("Each key of the chosen ones becomes a variable."),
    )

    MOUNTS = 3  # rows of "mount this Secret or ConfigMap at this path"
    COLUMNS = {
        "container": (
            ("image", "col-md-8"),
            ("ports", "col-md-4"),
            ("command", ""),
            ("args", ""),
            ("run_as_user", "col-md-4"),
        ),
        "environment": (("env", "col-md-8"), ("env_secret", "col-md-4"), ("env_from", "col-md-6")),
        "resources": tuple((name, "col-md-3") for name in RESOURCE_FIELDS),
        "health": (
            ("liveness_path", "col-md-4"),
            ("liveness_port", "col-md-2"),
            ("readiness_path", "col-md-4"),
            ("readiness_port", "col-md-2"),
        ),
    }

    def __init__(self, *args, config_choices=None, **kwargs):
        """config_choices: configs.choices() of the namespace (names of its Secrets and ConfigMaps)."""
        super().__init__(*args, **kwargs)
        config_choices = config_choices or {}
        options = [
            (f"Secret/{name}", _("Secret %(name)s") % {"name": name}) for name in config_choices.get("secrets", [])
        ] + [
            (f"ConfigMap/{name}", _("ConfigMap %(name)s") % {"name": name})
            for name in config_choices.get("configmaps", [])
        ]
        self.fields["env_from"].choices = options
        self.fields["env_from"].widget.attrs["size"] = min(max(len(options), 2), 6)
        for n in range(self.MOUNTS):
            # a small select beside the small path input (the form's other selects are full size)
            self.fields[f"mount_{n}_source"] = forms.ChoiceField(
                label=_("Mount"),
                required=False,
                choices=[("", "—")] + options,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
            self.fields[f"mount_{n}_path"] = self.bootstrap(
                forms.CharField(label=_("at path"), required=False, max_length=200)
            )

    def mount_rows(self):
        return [(self[f"mount_{n}_source"], self[f"mount_{n}_path"]) for n in range(self.MOUNTS)]

    def clean(self):
        """Every field is checked, so that all problems are shown at once."""
        data = super().clean()
        spec = specs.empty_spec()

        def check(read):
            try:
                return read()
            except ValidationError as exc:
                self.add_error(None, exc)
                return None

        spec["image"] = check(lambda: specs.check_image(data.get("image")))
        spec["ports"] = check(lambda: specs.parse_ports(data.get("ports"))) or []
        spec["env"] = check(lambda: specs.parse_env(data.get("env")))
        spec["env_secret"] = (data.get("env_secret") or "").strip()
        resources = {"requests": {}, "limits": {}}
        for field, (section, resource) in RESOURCE_FIELDS.items():
            value = check(lambda field=field: specs.parse_quantity(data.get(field), field, self.fields[field].label))
            if value:
                resources[section][resource] = value
        check(lambda: specs.check_resources(resources))
        spec["resources"] = resources
        for probe in ("liveness", "readiness"):
            spec[probe] = check(
                lambda probe=probe: specs.parse_probe(
                    data.get(f"{probe}_path"), data.get(f"{probe}_port"), spec["ports"], f"{probe}_path"
                )
            )
        spec["command"] = check(lambda: specs.parse_words(data.get("command"), "command"))
        spec["args"] = check(lambda: specs.parse_words(data.get("args"), "args"))
        spec["run_as_user"] = data.get("run_as_user")
        spec["env_from"] = [_config_ref(value) for value in data.get("env_from") or []]
        mounts = []
        for n in range(self.MOUNTS):
            source, path = data.get(f"mount_{n}_source"), (data.get(f"mount_{n}_path") or "").strip()
            if source or path:
                if not source:
                    self.add_error(f"mount_{n}_source", _("Choose what to mount at %(path)s.") % {"path": path})
                    continue
                mounts.append({**_config_ref(source), "mount_path": path})
        spec["config_volumes"] = mounts
        check(lambda: specs.check_config_refs(spec["env_from"], mounts))
        self.spec = spec
        return data

    @staticmethod
    def initial_from(spec):
        resources = spec.get("resources") or {}
        initial = {
            "image": spec.get("image", ""),
            "replicas": spec.get("replicas", 1),
            "ports": specs.format_ports(spec.get("ports")),
            "env": specs.format_env(spec.get("env")),
            "env_secret": spec.get("env_secret", ""),
            "command": specs.format_words(spec.get("command")),
            "args": specs.format_words(spec.get("args")),
            "volumes": specs.format_volumes(spec.get("volumes")),
            "run_as_user": spec.get("run_as_user"),
        }
        for field, (section, resource) in RESOURCE_FIELDS.items():
            initial[field] = (resources.get(section) or {}).get(resource, "")
        for probe in ("liveness", "readiness"):
            value = spec.get(probe) or {}
            initial[f"{probe}_path"], initial[f"{probe}_port"] = value.get("path", ""), value.get("port")
        initial["env_from"] = [f"{ref['kind']}/{ref['name']}" for ref in spec.get("env_from") or []]
        for n, mount in enumerate((spec.get("config_volumes") or [])[: SpecForm.MOUNTS]):
            initial[f"mount_{n}_source"], initial[f"mount_{n}_path"] = (
                f"{mount['kind']}/{mount['name']}",
                mount["mount_path"],
            )
        return initial


def _config_ref(value):
    kind, _sep, name = value.partition("/")
    return {"kind": kind, "name": name}


def config_choices_with(choices, spec):
    """The namespace's choices plus what the spec uses already (kept selectable when the
    cluster could not list them)."""
    choices = {key: list(names) for key, names in choices.items()}
    for ref in (spec.get("env_from") or []) + (spec.get("config_volumes") or []):
        key = "secrets" if ref["kind"] == "Secret" else "configmaps"
        if ref["name"] not in choices.setdefault(key, []):
            choices[key].append(ref["name"])
    return choices


class AppForm(SpecForm):
    name = forms.CharField(
        label=_("Name"),
        max_length=specs.APP_NAME_MAX,
        help_text=_("Lower-case letters, digits and '-' (DNS-1123); names the Deployment or StatefulSet."),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=AppKind.choices, initial=AppKind.DEPLOYMENT)
    replicas = forms.IntegerField(label=_("Replicas"), min_value=0, max_value=specs.MAX_REPLICAS, initial=1)
    volumes = _text(
        _("Persistent volumes (StatefulSet only)"),
        _("One 'name /mount/path size' per line, e.g. data /var/lib/postgresql 5Gi: a Ceph RBD volume per replica."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    # Optional: a Service, and an Ingress giving the app a domain, deployed with it
    service_type = forms.ChoiceField(
        label=_("Service"),
        choices=ServiceType.choices,
        required=False,
        help_text=_("Empty: no Service (the app is reached from nowhere else)."),
    )
    service_port = forms.IntegerField(label=_("Service port"), required=False, min_value=1, max_value=65535, initial=80)
    host = forms.CharField(
        label=_("Domain"),
        required=False,
        max_length=253,
        help_text=_("Ingress host, e.g. shop.example.com; empty: no ingress."),
    )
    path = forms.CharField(label=_("Path"), required=False, max_length=200, initial="/")
    tls_secret = forms.ChoiceField(
        label=_("TLS Secret"),
        required=False,
        help_text=_("A kubernetes.io/tls Secret of the namespace; empty: plain HTTP."),
    )

    field_order = ["name", "kind", "image", "replicas", "ports"]
    COLUMNS = {
        **SpecForm.COLUMNS,
        "app": (("name", "col-md-4"), ("kind", "col-md-4"), ("replicas", "col-md-4")),
        "storage": (("volumes", "col-md-8"),),
        "exposure": (
            ("service_type", "col-md-4"),
            ("service_port", "col-md-2"),
            ("host", "col-md-6"),
            ("path", "col-md-4"),
            ("tls_secret", "col-md-4"),
        ),
    }

    def __init__(self, *args, project=None, **kwargs):
        super().__init__(*args, **kwargs)
        tls = (kwargs.get("config_choices") or {}).get("tls", [])
        self.fields["tls_secret"].choices = [("", "—")] + [(name, name) for name in tls]
        defaults = (project.limit_range if project else None) or {}
        for field, key in (
            ("cpu_request", "request_cpu"),
            ("cpu_limit", "limit_cpu"),
            ("memory_request", "request_memory"),
            ("memory_limit", "limit_memory"),
        ):
            if defaults.get(key):
                self.fields[field].initial = defaults[key]

    def clean(self):
        data = super().clean()
        try:
            specs.check_app_name(data.get("name", ""))
        except ValidationError as exc:
            self.add_error(None, exc)
        self.spec["replicas"] = data.get("replicas")
        try:
            self.spec["volumes"] = specs.parse_volumes(data.get("volumes"))
        except ValidationError as exc:
            self.add_error(None, exc)
        else:
            if self.spec["volumes"] and data.get("kind") != AppKind.STATEFULSET:
                self.add_error("volumes", _("Deployments are stateless: choose StatefulSet for persistent volumes."))
        self.exposure = {
            "service_type": data.get("service_type") or "",
            "port": data.get("service_port"),
            "host": data.get("host") or "",
            "path": data.get("path") or "",
            "tls_secret": data.get("tls_secret") or "",
        }
        return data

    def arguments(self):
        """deploy_app's keyword arguments."""
        data = self.cleaned_data
        return {"name": data["name"], "kind": data["kind"], "spec": self.spec, "exposure": self.exposure}


class UpgradeForm(SpecForm):
    generation = forms.CharField(required=False, widget=forms.HiddenInput)

    def arguments(self):
        """upgrade_app's keyword arguments."""
        return {"spec": self.spec, "generation": self.cleaned_data.get("generation")}


class ScaleForm(BootstrapMixin, forms.Form):
    replicas = forms.IntegerField(label=_("Replicas"), min_value=0, max_value=specs.MAX_REPLICAS)


class ExposeForm(ColumnsMixin, BootstrapMixin, forms.Form):
    service_type = forms.ChoiceField(label=_("Service"), choices=ServiceType.choices, required=False)
    port = forms.IntegerField(label=_("Service port"), required=False, min_value=1, max_value=65535, initial=80)
    target_port = forms.IntegerField(
        label=_("Container port"),
        required=False,
        min_value=1,
        max_value=65535,
        help_text=_("Empty: the app's first container port."),
    )
    node_port = forms.IntegerField(
        label=_("Node port"), required=False, help_text=_("NodePort only, 30000-32767; empty: chosen by the cluster.")
    )
    host = forms.CharField(
        label=_("Domain"),
        required=False,
        max_length=253,
        help_text=_("Ingress host, e.g. shop.example.com; empty: no ingress."),
    )
    path = forms.CharField(label=_("Path"), required=False, max_length=200, initial="/")
    tls_secret = forms.CharField(
        label=_("TLS Secret"),
        required=False,
        max_length=253,
        help_text=_("A kubernetes.io/tls Secret in the namespace."),
    )

    COLUMNS = {
        "main": (
            ("service_type", "col-12"),
            ("port", "col-4"),
            ("target_port", "col-4"),
            ("node_port", "col-4"),
            ("host", "col-12"),
            ("path", "col-6"),
            ("tls_secret", "col-6"),
        )
    }

    @staticmethod
    def initial_from(app):
        service, ingress = app.service or {}, app.ingress or {}
        return {
            "service_type": service.get("type", ""),
            "port": service.get("port", 80),
            "target_port": service.get("target_port"),
            "node_port": service.get("node_port"),
            "host": ingress.get("host", ""),
            "path": ingress.get("path", "/"),
            "tls_secret": ingress.get("tls_secret", ""),
        }


class DeleteForm(ConfirmForm):
    delete_volumes = forms.BooleanField(required=False)


class RollbackForm(forms.Form):
    revision = forms.IntegerField(min_value=0)


class ScheduleForm(ColumnsMixin, BootstrapMixin, forms.Form):
    at = forms.TimeField(
        label=_("Time"), input_formats=["%H:%M"], widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    replicas = forms.IntegerField(label=_("Replicas"), min_value=0, max_value=specs.MAX_REPLICAS)
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Days"), coerce=int, widget=forms.CheckboxSelectMultiple, initial=list(range(7))
    )

    COLUMNS = {"main": (("at", "col-6"), ("replicas", "col-6"), ("weekdays", "col-12"))}

    def __init__(self, *args, **kwargs):
        from .models import WEEKDAYS

        kwargs.setdefault("auto_id", "id_schedule_%s")  # the app page also has the scale and canary forms' "replicas"
        super().__init__(*args, **kwargs)
        self.fields["weekdays"].choices = WEEKDAYS


class AutoscalerForm(ColumnsMixin, BootstrapMixin, forms.Form):
    min_replicas = forms.IntegerField(label=_("Minimum"), min_value=1, max_value=specs.MAX_REPLICAS, initial=1)
    max_replicas = forms.IntegerField(label=_("Maximum"), min_value=1, max_value=specs.MAX_REPLICAS, initial=5)
    cpu = forms.IntegerField(
        label=_("CPU target %"),
        required=False,
        min_value=1,
        max_value=1000,
        initial=70,
        help_text=_("Average use as a share of the CPU request."),
    )
    memory = forms.IntegerField(label=_("Memory target %"), required=False, min_value=1, max_value=1000)

    COLUMNS = {"main": (("min_replicas", "col-6"), ("max_replicas", "col-6"), ("cpu", "col-6"), ("memory", "col-6"))}


class CanaryForm(ColumnsMixin, BootstrapMixin, forms.Form):
    image = forms.CharField(label=_("New image"), max_length=512)
    replicas = forms.IntegerField(label=_("Canary replicas"), min_value=1, max_value=10, initial=1)
    weight = forms.IntegerField(label=_("Traffic %"), required=False, min_value=0, max_value=100, initial=20)
    header = forms.CharField(
        label=_("Or by header"),
        required=False,
        max_length=63,
        help_text=_("e.g. X-Canary: requests with it go to the canary."),
    )
    header_value = forms.CharField(
        label=_("Header value"), required=False, max_length=200, help_text=_("Empty: the value 'always'.")
    )

    COLUMNS = {
        "main": (
            ("image", "col-12"),
            ("replicas", "col-6"),
            ("weight", "col-6"),
            ("header", "col-6"),
            ("header_value", "col-6"),
        )
    }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_canary_%s")  # ids of its own on the app page, which has several forms
        super().__init__(*args, **kwargs)


class CanaryTrafficForm(ColumnsMixin, BootstrapMixin, forms.Form):
    weight = forms.IntegerField(label=_("Traffic %"), required=False, min_value=0, max_value=100)
    header = forms.CharField(label=_("Header"), required=False, max_length=63)
    header_value = forms.CharField(label=_("Header value"), required=False, max_length=200)

    COLUMNS = {"main": (("weight", "col-4"), ("header", "col-4"), ("header_value", "col-4"))}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_traffic_%s")
        super().__init__(*args, **kwargs)
