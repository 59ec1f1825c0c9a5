"""The console's Ceph settings. Ceph is optional: without CEPH_CONF and CEPH_KEYRING the
console runs, and says how to enable volumes and backups."""

from dataclasses import dataclass

from django.conf import settings

from console import texts
from console.ceph.errors import CephNotConfigured

NOT_CONFIGURED = texts.message(
    "Ceph is not configured: set %(missing)s (the cluster's ceph.conf, the keyring of the console's client and "
    "its name, e.g. client.caas). A throwaway development cluster: scripts/ceph-dev.sh."
)


@dataclass(frozen=True)
class CephConfig:
    conf: str  # path of ceph.conf (the monitors' addresses)
    keyring: str  # path of the client's keyring
    client: str = "client.caas"  # the cephx user, with its type ("client.")
    pool: str = "rbd"  # where volume images live
    backup_pool: str = "caas-backups"  # where backup artefacts live (plain RADOS objects)
    timeout: int = 10  # seconds: connecting, and each monitor or OSD operation

    def __post_init__(self) -> None:
        if "." not in self.client:  # "caas" means client.caas, as for the ceph CLI's --id
            object.__setattr__(self, "client", f"client.{self.client}")

    def rados_options(self) -> dict[str, str]:
        """librados settings: the keyring, a bound on every wait, and no log lines on stderr
        (failures come back as typed errors instead)."""
        seconds = str(max(1, int(self.timeout)))
        return {
            "keyring": self.keyring,
            "client_mount_timeout": seconds,
            "rados_mon_op_timeout": seconds,
            "rados_osd_op_timeout": seconds,
            "log_to_stderr": "false",
            "err_to_stderr": "false",
        }


def missing_settings() -> list[str]:
    return [name for name in ("CEPH_CONF", "CEPH_KEYRING") if not getattr(settings, name, "")]


def is_configured() -> bool:
    return not missing_settings()


def from_settings() -> CephConfig:
    """The configuration the settings describe; CephNotConfigured when they do not name a cluster."""
    missing = missing_settings()
    if missing:
        raise CephNotConfigured(NOT_CONFIGURED(missing=", ".join(missing)))
    return CephConfig(
        conf=settings.CEPH_CONF,
        keyring=settings.CEPH_KEYRING,
        client=settings.CEPH_CLIENT or "client.caas",
        pool=settings.CEPH_POOL,
        backup_pool=settings.CEPH_BACKUP_POOL,
        timeout=settings.CEPH_TIMEOUT,
    )
