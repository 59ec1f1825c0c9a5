"""What the Pod Security Standards allow (k8s.io/pod-security-admission/policy), without the
words: the sandbox's admission plugin and the console's pre-flight checks phrase their own.
`minor` is the Kubernetes minor version whose rules apply; None means the newest rules."""

GOOD_PROFILES = ("RuntimeDefault", "Localhost")  # seccomp and AppArmor profile types baseline allows
DEFAULT_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
# (first minor version, the sysctls baseline allows from it on)
SYSCTLS = [
    (
        0,
        {
            "kernel.shm_rmid_forced",
            "net.ipv4.ip_local_port_range",
            "net.ipv4.tcp_syncookies",
            "net.ipv4.ping_group_range",
            "net.ipv4.ip_unprivileged_port_start",
        },
    ),
    (27, {"net.ipv4.ip_local_reserved_ports"}),
    (
        29,
        {
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        },
    ),
    (32, {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}),
]
# the volume sources restricted allows
VOLUME_SOURCES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
)


def allowed_sysctls(minor=None):
    return set().union(*(names for since, names in SYSCTLS if minor is None or since <= minor))


def selinux_types(minor=None):
    """The seLinuxOptions types baseline allows ("" is unset)."""
    engine = {"container_engine_t"} if minor is None or minor >= 31 else set()
    return {"", "container_t", "container_init_t", "container_kvm_t"} | engine


def containers(spec):
    """initContainers, containers, then ephemeralContainers: the visiting order of the checks."""
    return [
        c
        for kind in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(kind) or []
        if isinstance(c, dict)
    ]


def bad_profile(profile):
    """[its type] when an AppArmor or seccomp profile is set to other than RuntimeDefault or Localhost."""
    if isinstance(profile, dict) and profile.get("type") not in GOOD_PROFILES:
        return [str(profile.get("type"))]
    return None


def lifecycle_hosts(container):
    """The hosts a container's probes and lifecycle hooks name (httpGet.host, tcpSocket.host)."""
    handlers = [container.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
    handlers += [(container.get("lifecycle") or {}).get(h) for h in ("postStart", "preStop")]
    return [
        host
        for handler in handlers
        if isinstance(handler, dict)
        for action in ("httpGet", "tcpSocket")
        if (host := (handler.get(action) or {}).get("host"))
    ]
