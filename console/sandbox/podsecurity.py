"""Pod Security admission, as the PodSecurity plugin of a real API server does it.

Namespace labels `pod-security.kubernetes.io/<mode>` (enforce, audit, warn) pick a level
(privileged, baseline, restricted) and `<mode>-version` the version of its rules ("latest"
or "v1.x"); a namespace without them is privileged. A pod that breaks its namespace's
enforce level is refused (403); workloads (Deployments, Jobs, ...) are never refused: their
pod template only draws a `Warning` header, and the pods their controllers make are refused
like any other. The checks, their order and their words follow
k8s.io/pod-security-admission/policy; a version drops the checks that came after it.
"""

import re
import threading
from contextlib import contextmanager

from kubesemantics.podsecurity import (
    DEFAULT_CAPABILITIES,
    VOLUME_SOURCES,
    allowed_sysctls,
    bad_profile,
    containers,
    lifecycle_hosts,
    selinux_types,
)

from .errors import ApiError, invalid
from .kinds import STORED
from .validation import Causes

LEVELS = ("privileged", "baseline", "restricted")
MODES = ("enforce", "audit", "warn")
LABEL = "pod-security.kubernetes.io/"
NEWEST = 37  # the sandbox is Kubernetes v1.37: "latest", and any newer version, mean its rules
VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")
TEMPLATE_PATHS = {  # where each pod controller keeps its pod template
    "deployments": ("spec", "template"),
    "replicasets": ("spec", "template"),
    "statefulsets": ("spec", "template"),
    "daemonsets": ("spec", "template"),
    "jobs": ("spec", "template"),
    "replicationcontrollers": ("spec", "template"),
    "cronjobs": ("spec", "jobTemplate", "spec", "template"),
    "podtemplates": ("template",),
}
MAX_PODS_CHECKED = 3000  # a namespace's new enforce level is tried on this many existing pods at most

# --- warnings of the request being served --------------------------------------------------------

_request = threading.local()


@contextmanager
def collecting_warnings():
    """Warnings raised while the current thread serves one write request; controllers'
    own writes happen on other threads and collect nothing (nobody would read them)."""
    _request.warnings = warnings = []
    try:
        yield warnings
    finally:
        _request.warnings = None


def _collector():
    return getattr(_request, "warnings", None)


def warning_header(warnings):
    """The `Warning` header: code 299, agent "-", each text quoted."""
    return ", ".join('299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' for text in warnings)


# --- policy ----------------------------------------------------------------------------------------


def policy(labels):
    """({mode: (level, version text)}, [(label, value, message)]). Unparseable labels fail
    closed for enforce (restricted) and open for audit and warn (privileged)."""
    labels = labels or {}
    result, errors = {}, []
    for mode in MODES:
        level, version = "privileged", "latest"
        key = LABEL + mode
        if key in labels:
            level = labels[key]
            if level not in LEVELS:
                errors.append((key, level, "must be one of " + ", ".join(LEVELS)))
                level = "restricted" if mode == "enforce" else "privileged"
        if key + "-version" in labels:
            version = labels[key + "-version"]
            if version != "latest" and not VERSION.match(str(version)):
                errors.append((key + "-version", version, 'must be "latest" or "v1.x"'))
                version = "latest"
        result[mode] = (level, version)
    return result, errors


def minor_of(version):
    return NEWEST if version == "latest" else min(int(version[3:]), NEWEST)


# --- helpers, as policy/helpers.go -------------------------------------------------------------------


def join_quote(items):
    return ", ".join(f'"{item}"' for item in items)


def plural(singular, many, count):
    return singular if count == 1 else many


def context(obj):
    return obj.get("securityContext") or {}


def named(names):
    """'container "a"' or 'containers "a", "b"'."""
    return f"{plural('container', 'containers', len(names))} {join_quote(names)}"


def setters(pod_set, names, what):
    """'pod and containers "a", "b" <what>' as the runAsNonRoot, runAsUser, seccomp ... checks word it."""
    parts = (["pod"] if pod_set else []) + ([named(names)] if names else [])
    return f"{' and '.join(parts)} {what}"


def windows(spec):
    return (spec.get("os") or {}).get("name") == "windows"


def offenders(spec, found):
    """(names of the containers that found(container) flags, in visiting order; the sorted values
    it gave). found returns a falsy value, True, or the container's offending values."""
    names, values = [], set()
    for c in containers(spec):
        got = found(c)
        if got:
            names.append(c.get("name"))
            if got is not True:
                values.update(got)
    return names, sorted(values)


def container_check(reason, found, detail, not_on_windows=False):
    """A check of each container (see offenders): (reason, detail(names, values)) when any offends.
    not_on_windows: the restricted checks that Windows pods skip from v1.25."""

    def check(meta, spec, minor):
        if not_on_windows and minor >= 25 and windows(spec):
            return None
        names, values = offenders(spec, found)
        return (reason, detail(names, values)) if names else None

    return check


def context_check(reason, bad, what):
    """A check of the pod's securityContext and each container's: bad(securityContext) offends."""

    def check(meta, spec, minor):
        pod = bad(context(spec))
        names = [c.get("name") for c in containers(spec) if bad(context(c))]
        return (reason, setters(pod, names, what)) if pod or names else None

    return check


def adds(names, added):
    return f"{named(names)} must not include {join_quote(added)} in securityContext.capabilities.add"


# --- the checks: each (meta, spec, minor) -> (reason, detail) or None ---------------------------------


def app_armor(meta, spec, minor):
    bad_values = set(bad_profile(context(spec).get("appArmorProfile")) or ())
    setters_ = ["pod"] if bad_values else []
    names, values = offenders(spec, lambda c: bad_profile(context(c).get("appArmorProfile")))
    if names:
        setters_.append(named(names))
    annotations = sorted(
        f'{k}="{v}"'
        for k, v in (meta.get("annotations") or {}).items()
        if k.startswith("container.apparmor.security.beta.kubernetes.io/")
        and v
        and v != "runtime/default"
        and not v.startswith("localhost/")
    )
    values = sorted(bad_values.union(values)) + annotations
    if annotations:
        setters_.append(plural("annotation", "annotations", len(annotations)))
    if not setters_:
        return None
    return (
        plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values)),
        f"{' and '.join(setters_)} must not set AppArmor profile type to {join_quote(values)}",
    )


capabilities_baseline = container_check(
    "non-default capabilities",
    lambda c: [
        str(cap) for cap in (context(c).get("capabilities") or {}).get("add") or [] if cap not in DEFAULT_CAPABILITIES
    ],
    adds,
)


def host_namespaces(meta, spec, minor):
    shared = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field) is True]
    return ("host namespaces", ", ".join(shared)) if shared else None


def host_path_volumes(meta, spec, minor):
    names = [v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict) and v.get("hostPath") is not None]
    return ("hostPath volumes", f"{plural('volume', 'volumes', len(names))} {join_quote(names)}") if names else None


host_ports = container_check(
    "hostPort",
    lambda c: [str(p["hostPort"]) for p in c.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")],
    lambda names, ports: (
        f"{named(names)} {plural('uses', 'use', len(names))} "
        f"{plural('hostPort', 'hostPorts', len(ports))} {', '.join(ports)}"
    ),
)


def probe_hosts_detail(names, hosts):
    names = sorted(set(names))  # this check names each container once, sorted
    return (
        f"{named(names)} {plural('uses', 'use', len(names))} "
        f"{plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} {join_quote(hosts)}"
    )


probe_hosts = container_check("probe or lifecycle host", lifecycle_hosts, probe_hosts_detail)
privileged = container_check(
    "privileged",
    lambda c: context(c).get("privileged") is True,
    lambda names, _: f"{named(names)} must not set securityContext.privileged=true",
)


def proc_mount_type(c):
    mount = context(c).get("procMount")
    return [str(mount)] if mount is not None and mount != "Default" else None


proc_mount = container_check(
    "procMount",
    proc_mount_type,
    lambda names, types: f"{named(names)} must not set securityContext.procMount to {join_quote(types)}",
)


def se_linux(meta, spec, minor):
    allowed = selinux_types(minor)
    bad_types, found = set(), {"user": False, "role": False}

    def bad(options):
        if not isinstance(options, dict):
            return False
        wrong = False
        if (options.get("type") or "") not in allowed:
            bad_types.add(options.get("type"))
            wrong = True
        for field in ("user", "role"):
            if options.get(field):
                found[field] = wrong = True
        return wrong

    pod = bad(context(spec).get("seLinuxOptions"))
    names = [c.get("name") for c in containers(spec) if bad(context(c).get("seLinuxOptions"))]
    if not pod and not names:
        return None
    data = [f"{plural('type', 'types', len(bad_types))} {join_quote(sorted(bad_types))}"] if bad_types else []
    data += [f"{field} may not be set" for field in ("user", "role") if found[field]]
    return ("seLinuxOptions", setters(pod, names, f"set forbidden securityContext.seLinuxOptions: {'; '.join(data)}"))


def _seccomp(spec):
    """(pod sets a bad type, containers that do, the bad types, containers that set nothing
    while the pod sets nothing good either). Only RuntimeDefault and Localhost are good."""
    pod_profile = context(spec).get("seccompProfile")
    pod_bad = bad_profile(pod_profile)
    pod_good = isinstance(pod_profile, dict) and not pod_bad
    explicit, values = offenders(spec, lambda c: bad_profile(context(c).get("seccompProfile")))
    implicit = (
        []
        if pod_good
        else [c.get("name") for c in containers(spec) if not isinstance(context(c).get("seccompProfile"), dict)]
    )
    return bool(pod_bad), explicit, sorted(set(values).union(pod_bad or ())), implicit


def seccomp_set(pod_bad, explicit, values):
    return (
        "seccompProfile",
        setters(pod_bad, explicit, f"must not set securityContext.seccompProfile.type to {join_quote(values)}"),
    )


def seccomp_baseline(meta, spec, minor):
    pod_bad, explicit, values, _implicit = _seccomp(spec)  # baseline: unset is fine
    return seccomp_set(pod_bad, explicit, values) if pod_bad or explicit else None


def sysctls(meta, spec, minor):
    allowed = allowed_sysctls(minor)
    forbidden = [
        str(s.get("name"))
        for s in context(spec).get("sysctls") or []
        if isinstance(s, dict) and s.get("name") not in allowed
    ]
    return ("forbidden sysctls", ", ".join(forbidden)) if forbidden else None


ulimits = container_check(
    "ulimits",
    lambda c: context(c).get("ulimits") is not None,
    lambda names, _: f"{named(names)} must not set securityContext.ulimits",
)
host_process = context_check(
    "hostProcess",
    lambda ctx: (ctx.get("windowsOptions") or {}).get("hostProcess") is True,
    "must not set securityContext.windowsOptions.hostProcess=true",
)
privilege_escalation = container_check(
    "allowPrivilegeEscalation != false",
    lambda c: context(c).get("allowPrivilegeEscalation") is not False,
    lambda names, _: f"{named(names)} must set securityContext.allowPrivilegeEscalation=false",
    not_on_windows=True,
)


def capabilities_restricted(meta, spec, minor):
    if minor >= 25 and windows(spec):
        return None

    def capabilities(c):
        return context(c).get("capabilities")

    missing_drop, _ = offenders(
        spec, lambda c: not isinstance(capabilities(c), dict) or "ALL" not in (capabilities(c).get("drop") or [])
    )
    adding, added = offenders(
        spec,
        lambda c: (
            isinstance(capabilities(c), dict)
            and [str(cap) for cap in capabilities(c).get("add") or [] if cap != "NET_BIND_SERVICE"]
        ),
    )
    details = []
    if missing_drop:
        details.append(f'{named(missing_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(adds(adding, added))
    return ("unrestricted capabilities", "; ".join(details)) if details else None


RESTRICTED_VOLUMES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


def restricted_volumes(meta, spec, minor):
    names, types = [], set()
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict) or any(volume.get(source) is not None for source in VOLUME_SOURCES):
            continue
        names.append(volume.get("name"))
        types.add(next((t for t in RESTRICTED_VOLUMES if volume.get(t) is not None), "unknown"))
    if not names:
        return None
    return (
        "restricted volume types",
        f"{plural('volume', 'volumes', len(names))} {join_quote(names)} {plural('uses', 'use', len(names))} "
        f"{plural('restricted volume type', 'restricted volume types', len(types))} {join_quote(sorted(types))}",
    )


def run_as_non_root(meta, spec, minor):
    pod_value = context(spec).get("runAsNonRoot")
    explicit = [c.get("name") for c in containers(spec) if context(c).get("runAsNonRoot") is False]
    if pod_value is False or explicit:
        return (
            "runAsNonRoot != true",
            setters(pod_value is False, explicit, "must not set securityContext.runAsNonRoot=false"),
        )
    implicit = [
        c.get("name") for c in containers(spec) if context(c).get("runAsNonRoot") is None and pod_value is not True
    ]
    if not implicit:
        return None
    return ("runAsNonRoot != true", f"pod or {named(implicit)} must set securityContext.runAsNonRoot=true")


run_as_user = context_check("runAsUser=0", lambda ctx: ctx.get("runAsUser") == 0, "must not set runAsUser=0")


def seccomp_restricted(meta, spec, minor):
    if minor >= 25 and windows(spec):
        return None
    pod_bad, explicit, values, implicit = _seccomp(spec)
    if pod_bad or explicit:
        return seccomp_set(pod_bad, explicit, values)
    if not implicit:
        return None
    return (
        "seccompProfile",
        f'pod or {named(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
    )


# (id, level, first version, check, ids of the baseline checks it replaces at the restricted level)
CHECKS = [
    ("appArmorProfile", "baseline", 0, app_armor, ()),
    ("capabilities_baseline", "baseline", 0, capabilities_baseline, ()),
    ("hostNamespaces", "baseline", 0, host_namespaces, ()),
    ("hostPathVolumes", "baseline", 0, host_path_volumes, ()),
    ("hostPorts", "baseline", 0, host_ports, ()),
    ("hostProbesAndHostLifecycle", "baseline", 34, probe_hosts, ()),
    ("privileged", "baseline", 0, privileged, ()),
    ("procMount", "baseline", 0, proc_mount, ()),
    ("seLinuxOptions", "baseline", 0, se_linux, ()),
    ("seccompProfile_baseline", "baseline", 0, seccomp_baseline, ()),
    ("sysctls", "baseline", 0, sysctls, ()),
    ("ulimits", "baseline", 37, ulimits, ()),
    ("windowsHostProcess", "baseline", 0, host_process, ()),
    ("allowPrivilegeEscalation", "restricted", 8, privilege_escalation, ()),
    ("capabilities_restricted", "restricted", 22, capabilities_restricted, ("capabilities_baseline",)),
    ("procMount_restricted", "restricted", 35, proc_mount, ("procMount",)),
    ("restrictedVolumes", "restricted", 0, restricted_volumes, ("hostPathVolumes",)),
    ("runAsNonRoot", "restricted", 0, run_as_non_root, ()),
    ("runAsUser", "restricted", 23, run_as_user, ()),
    ("seccompProfile_restricted", "restricted", 19, seccomp_restricted, ("seccompProfile_baseline",)),
]


def evaluate(level, version, meta, spec):
    """The failed checks' (reason, detail), baseline checks first, each group by id."""
    if level == "privileged":
        return []
    minor = minor_of(version)
    applicable = [c for c in CHECKS if c[2] <= minor and (c[1] == "baseline" or level == "restricted")]
    replaced = {old for c in applicable if c[1] == "restricted" for old in c[4]}
    results = [
        check(meta or {}, spec or {}, minor)
        for check_id, _level, _since, check, _replaces in applicable
        if check_id not in replaced
    ]
    return [result for result in results if result]


def describe(failed):
    """AggregateCheckResult.ForbiddenDetail: 'reason (detail), reason (detail)'."""
    return ", ".join(f"{reason} ({detail})" if detail else reason for reason, detail in failed)


# --- the admission plugin ------------------------------------------------------------------------


class PodSecurity:
    def __init__(self, store):
        self.store = store

    def labels(self, namespace):
        ns = self.store.get_ref(STORED["namespaces"], "", namespace)
        return ((ns or {}).get("metadata") or {}).get("labels") or {}

    def admit(self, plural, obj, old):
        if plural == "namespaces":
            self.admit_namespace(obj, old)
        elif plural == "pods":
            self.admit_pod(obj, old)
        elif plural in TEMPLATE_PATHS and _collector() is not None:
            self.warn_about_template(plural, obj)

    def admit_pod(self, pod, old):
        if old is not None and not significant_update(pod, old):
            return  # status, binding, labels: nothing the policy looks at changed
        meta = pod["metadata"]
        modes, _errors = policy(self.labels(meta.get("namespace", "")))
        if all(modes[mode][0] == "privileged" for mode in MODES):
            return
        level, version = modes["enforce"]
        failed = evaluate(level, version, meta, pod.get("spec") or {})
        if failed:
            name = meta.get("name") or meta.get("generateName", "")
            raise ApiError(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: violates PodSecurity "{level}:{version}": {describe(failed)}',
                {"name": name, "kind": "pods"},
            )
        self.warn(modes["warn"], meta, pod.get("spec") or {})

    def warn_about_template(self, plural, obj):
        template = obj
        for key in TEMPLATE_PATHS[plural]:
            template = template.get(key) if isinstance(template, dict) else None
        if not isinstance(template, dict):
            return
        modes, _errors = policy(self.labels(obj["metadata"].get("namespace", "")))
        self.warn(modes["warn"], template.get("metadata") or {}, template.get("spec") or {})

    @staticmethod
    def warn(mode, meta, spec):
        collector = _collector()
        if collector is None or mode[0] == "privileged":
            return
        failed = evaluate(mode[0], mode[1], meta, spec)
        if failed:
            collector.append(f'would violate PodSecurity "{mode[0]}:{mode[1]}": {describe(failed)}')

    def admit_namespace(self, namespace, old):
        """Labels must parse (422 otherwise); a stricter enforce level warns about the pods
        that already run against it."""
        new_modes, errors = policy((namespace.get("metadata") or {}).get("labels"))
        old_modes, old_errors = policy(((old or {}).get("metadata") or {}).get("labels")) if old else (None, [])
        if errors and (old is None or errors != old_errors):
            causes = Causes()
            for label, value, message in errors:
                causes.bad(f"metadata.labels[{label}]", value, message)
            raise invalid(STORED["namespaces"], namespace["metadata"].get("name", ""), causes)
        if old is None or _collector() is None:
            return
        level, version = new_modes["enforce"]
        old_level, old_version = old_modes["enforce"]
        if (level, version) == (old_level, old_version) or level == "privileged":
            return
        if version == old_version and LEVELS.index(level) <= LEVELS.index(old_level):
            return
        self.warn_about_running_pods(namespace["metadata"]["name"], level, version)

    def warn_about_running_pods(self, namespace, level, version):
        pods = sorted(self.store.iter_refs(STORED["pods"], namespace), key=lambda p: p["metadata"]["name"])
        counts = {}  # reasons -> [first pod name, how many]
        for pod in pods[:MAX_PODS_CHECKED]:
            failed = evaluate(level, version, pod["metadata"], pod.get("spec") or {})
            if failed:
                entry = counts.setdefault(", ".join(reason for reason, _detail in failed), [pod["metadata"]["name"], 0])
                entry[1] += 1
        collector = _collector()
        if len(pods) > MAX_PODS_CHECKED:
            collector.append(
                f"new PodSecurity enforce level only checked against the first {MAX_PODS_CHECKED} of "
                f"{len(pods)} existing pods"
            )
        if counts:
            collector.append(
                f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce level '
                f'"{level}:{version}"'
            )
        lines = []
        for reasons, (name, count) in counts.items():
            others = "" if count == 1 else " (and 1 other pod)" if count == 2 else f" (and {count - 1} other pods)"
            lines.append(f"{name}{others}: {reasons}")
        collector.extend(sorted(lines))


def significant_update(pod, old):
    """As isSignificantPodUpdate: images, the number of containers, seccomp annotations."""
    spec, old_spec = pod.get("spec") or {}, old.get("spec") or {}
    annotations = pod["metadata"].get("annotations") or {}
    old_annotations = old["metadata"].get("annotations") or {}
    if any(
        k.startswith(("seccomp.security.alpha.kubernetes.io/", "container.seccomp.security.alpha.kubernetes.io/"))
        and annotations.get(k) != old_annotations.get(k)
        for k in set(annotations) | set(old_annotations)
    ):
        return True
    for kind in ("containers", "initContainers", "ephemeralContainers"):
        now, before = spec.get(kind) or [], old_spec.get(kind) or []
        if len(now) != len(before) or any(
            (a or {}).get("image") != (b or {}).get("image") for a, b in zip(now, before, strict=True)
        ):
            return True
    return False
