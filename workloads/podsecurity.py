"""The Pod Security Standards, checked by the console before it asks a cluster: the pods of an
app from the deploy form or of imported manifests must pass their tenant's level
(restricted, or baseline by an operator's choice). The cluster enforces the same rules through
the namespace's pod-security.kubernetes.io labels, but it refuses a workload's pods one by
one, later, as events; here the refusal comes at once and names the field.

The rules are those of the current Kubernetes release ("latest"): baseline forbids what
reaches out of the container (host namespaces, privileged, added capabilities, hostPath,
hostPort, AppArmor/SELinux/seccomp/procMount overrides, unsafe sysctls); restricted also
requires the hardened settings (no privilege escalation, non-root, RuntimeDefault seccomp,
all capabilities dropped) and allows only the ordinary volume types."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from kubesemantics.podsecurity import (
    DEFAULT_CAPABILITIES,
    GOOD_PROFILES,
    VOLUME_SOURCES,
    allowed_sysctls,
    bad_profile,
    lifecycle_hosts,
    selinux_types,
)
from kubesemantics.podsecurity import containers as _containers

RESTRICTED, BASELINE = "restricted", "baseline"
# The container securityContext that passes restricted: the console's own pods get it.
RESTRICTED_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
    "capabilities": {"drop": ["ALL"]},
}
TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
SAFE_SYSCTLS = allowed_sysctls()  # the current release's rules
SELINUX_TYPES = selinux_types()


def _context(obj):
    value = obj.get("securityContext") if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _where(names, pod=False):
    """'the pod, container "a", container "b"': who sets the refused value."""
    parts = [_("the pod")] if pod else []
    return ", ".join(parts + [_('container "%(name)s"') % {"name": name} for name in names])


def problems(level, meta, spec):
    """What the level refuses in a pod's metadata and spec, one message per rule."""
    if level not in (RESTRICTED, BASELINE):
        return []
    meta, spec = meta if isinstance(meta, dict) else {}, spec if isinstance(spec, dict) else {}
    found = []  # (message with %(level)s and %(where)s, where)
    pod, containers = _context(spec), _containers(spec)

    def named(test):
        return [c.get("name") for c in containers if test(c)]

    def refuse(message, names=(), pod_too=False, **params):
        if names or pod_too:
            found.append(message % {"level": level, "where": _where(names, pod_too), **params})

    # baseline: nothing that reaches out of the container
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field) is True:
            found.append(
                _("%(field)s: true is not allowed in this tenant (Pod Security level %(level)s)")
                % {"field": field, "level": level}
            )
    refuse(
        _("privileged containers are not allowed in this tenant (Pod Security level %(level)s): %(where)s"),
        named(lambda c: _context(c).get("privileged") is True),
    )
    if level == BASELINE:
        added = sorted(
            {str(cap) for c in containers for cap in (_context(c).get("capabilities") or {}).get("add") or []}
            - DEFAULT_CAPABILITIES
        )
        refuse(
            _(
                "adding the capabilities %(caps)s is not allowed in this tenant "
                "(Pod Security level %(level)s): %(where)s"
            ),
            named(lambda c: set((_context(c).get("capabilities") or {}).get("add") or []) - DEFAULT_CAPABILITIES),
            caps=", ".join(added),
        )
        refuse(
            _("hostPath volumes are not allowed in this tenant (Pod Security level %(level)s): %(where)s"),
            [v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict) and v.get("hostPath") is not None],
        )
    refuse(
        _("hostPort is not allowed in this tenant (Pod Security level %(level)s): %(where)s"),
        named(lambda c: any(isinstance(p, dict) and p.get("hostPort") for p in c.get("ports") or [])),
    )
    refuse(
        _(
            "a host in probes or lifecycle hooks (httpGet.host, tcpSocket.host) is not allowed in this tenant "
            "(Pod Security level %(level)s): %(where)s"
        ),
        named(_probe_host),
    )
    refuse(
        _(
            "AppArmor profiles other than RuntimeDefault and Localhost are not allowed in this tenant "
            "(Pod Security level %(level)s): %(where)s"
        ),
        named(lambda c: _bad_profile(c, "appArmorProfile")),
        pod_too=_bad_profile(spec, "appArmorProfile"),
    )
    if any(
        k.startswith("container.apparmor.security.beta.kubernetes.io/")
        and v
        and v != "runtime/default"
        and not str(v).startswith("localhost/")
        for k, v in (meta.get("annotations") or {}).items()
    ):
        found.append(
            _(
                "AppArmor annotations other than runtime/default and localhost/* are not allowed in this tenant "
                "(Pod Security level %(level)s)"
            )
            % {"level": level}
        )
    refuse(
        _(
            "seLinuxOptions (a user, a role or a type other than container_t) are not allowed in this tenant "
            "(Pod Security level %(level)s): %(where)s"
        ),
        named(lambda c: _bad_selinux(_context(c))),
        pod_too=_bad_selinux(pod),
    )
    refuse(
        _("procMount other than Default is not allowed in this tenant (Pod Security level %(level)s): %(where)s"),
        named(lambda c: _context(c).get("procMount") not in (None, "Default")),
    )
    if level == BASELINE:
        refuse(
            _(
                "seccompProfile types other than RuntimeDefault and Localhost are not allowed in this tenant "
                "(Pod Security level %(level)s): %(where)s"
            ),
            named(lambda c: _bad_profile(c, "seccompProfile")),
            pod_too=_bad_profile(spec, "seccompProfile"),
        )
    unsafe = [
        str(s.get("name"))
        for s in pod.get("sysctls") or []
        if isinstance(s, dict) and s.get("name") not in SAFE_SYSCTLS
    ]
    if unsafe:
        found.append(
            _("the sysctls %(names)s are not allowed in this tenant (Pod Security level %(level)s)")
            % {"names": ", ".join(unsafe), "level": level}
        )
    refuse(
        _("securityContext.ulimits is not allowed in this tenant (Pod Security level %(level)s): %(where)s"),
        named(lambda c: _context(c).get("ulimits") is not None),
    )
    refuse(
        _("windowsOptions.hostProcess is not allowed in this tenant (Pod Security level %(level)s): %(where)s"),
        named(lambda c: (_context(c).get("windowsOptions") or {}).get("hostProcess") is True),
        pod_too=(pod.get("windowsOptions") or {}).get("hostProcess") is True,
    )
    if level == RESTRICTED:
        found += _restricted(meta, spec, pod, containers, named, refuse)
    return found


def _restricted(meta, spec, pod, containers, named, refuse):
    """What restricted adds: hardened containers and ordinary volumes only."""
    found = []
    volumes = {}
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict) and not any(volume.get(source) is not None for source in VOLUME_SOURCES):
            kind = next((k for k, v in volume.items() if k != "name" and isinstance(v, dict)), "unknown")
            volumes.setdefault(kind, []).append(volume.get("name"))
    for kind, names in sorted(volumes.items()):
        found.append(
            _("%(type)s volumes are not allowed in this tenant (Pod Security level %(level)s): %(where)s")
            % {
                "type": kind,
                "level": RESTRICTED,
                "where": ", ".join(_('volume "%(name)s"') % {"name": n} for n in names),
            }
        )
    windows = (spec.get("os") or {}).get("name") == "windows"
    if not windows:
        refuse(
            _(
                "securityContext.allowPrivilegeEscalation must be false in this tenant "
                "(Pod Security level %(level)s): %(where)s"
            ),
            named(lambda c: _context(c).get("allowPrivilegeEscalation") is not False),
        )
        refuse(
            _(
                'securityContext.capabilities.drop must include "ALL" in this tenant '
                "(Pod Security level %(level)s): %(where)s"
            ),
            named(lambda c: "ALL" not in ((_context(c).get("capabilities") or {}).get("drop") or [])),
        )
        refuse(
            _(
                "only NET_BIND_SERVICE may be added to capabilities in this tenant "
                "(Pod Security level %(level)s): %(where)s"
            ),
            named(lambda c: set((_context(c).get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}),
        )
        refuse(
            _(
                'securityContext.seccompProfile.type must be "RuntimeDefault" or "Localhost" in this tenant '
                "(Pod Security level %(level)s): %(where)s"
            ),
            named(
                lambda c: (
                    _bad_profile(c, "seccompProfile")
                    or ("seccompProfile" not in _context(c) and not _good_profile(spec))
                )
            ),
            pod_too=_bad_profile(spec, "seccompProfile"),
        )
    pod_non_root = pod.get("runAsNonRoot")
    refuse(
        _("securityContext.runAsNonRoot must be true in this tenant (Pod Security level %(level)s): %(where)s"),
        named(
            lambda c: (
                _context(c).get("runAsNonRoot") is False
                or (_context(c).get("runAsNonRoot") is None and pod_non_root is not True)
            )
        ),
        pod_too=pod_non_root is False,
    )
    refuse(
        _("runAsUser: 0 (root) is not allowed in this tenant (Pod Security level %(level)s): %(where)s"),
        named(lambda c: _context(c).get("runAsUser") == 0),
        pod_too=pod.get("runAsUser") == 0,
    )
    return found


def _probe_host(container):
    return bool(lifecycle_hosts(container))


def _bad_profile(obj, field):
    return bool(bad_profile(_context(obj).get(field)))


def _good_profile(obj):
    profile = _context(obj).get("seccompProfile")
    return isinstance(profile, dict) and profile.get("type") in GOOD_PROFILES


def _bad_selinux(context):
    options = context.get("seLinuxOptions")
    return isinstance(options, dict) and (
        options.get("user") or options.get("role") or (options.get("type") or "") not in SELINUX_TYPES
    )


def template_of(obj):
    """(metadata, spec) of the pods a workload object makes (a Pod: its own); None for other kinds."""
    if obj.get("kind") == "Pod":
        return obj.get("metadata") or {}, obj.get("spec") or {}
    template = obj
    for key in TEMPLATE_PATHS.get(obj.get("kind"), ()):
        template = template.get(key) if isinstance(template, dict) else None
    if obj.get("kind") not in TEMPLATE_PATHS or not isinstance(template, dict):
        return None
    return template.get("metadata") or {}, template.get("spec") or {}


def check_objects(level, objects):
    """Refuse (ValidationError, every problem of every object) what the level would refuse."""
    messages = []
    for obj in objects:
        pod = template_of(obj)
        if pod is not None:
            name = (obj.get("metadata") or {}).get("name", "")
            messages += [f"{obj.get('kind')} {name}: {problem}" for problem in problems(level, *pod)]
    if messages:
        raise ValidationError(messages)
