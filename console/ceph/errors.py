"""What can go wrong with Ceph, as typed errors the UI and the jobs can explain.

Every error carries a stored sentence (`texts.Text`, translated when shown) as its first
argument, so `jobs.reason(exc)` keeps it in the reader's language; `reason` is a short code,
`params` the values in the sentence, `detail` Ceph's own words (for the server log), and
`retryable` says whether trying again later may help (Ceph unreachable or slow).
"""

from typing import Any, ClassVar

from console import texts


class CephError(Exception):
    reason: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False
    message: ClassVar[texts.Message] = texts.message("Ceph refused the request: %(detail)s")

    def __init__(self, text: texts.Text | None = None, *, detail: object = "", **params: Any) -> None:
        self.detail = str(detail)[:500]
        if text is None:
            if "detail" in self.message.names:
                params["detail"] = self.detail or "?"
            text = self.message(**params)
        self.params = params
        self.text = text
        super().__init__(text)

    def __str__(self) -> str:
        return str(self.text)


class CephNotConfigured(CephError):
    """The settings do not name a cluster (the text says which settings to set)."""

    reason = "not_configured"


class CephConfigError(CephError):
    reason = "config"
    message = texts.message("The Ceph settings do not work: %(detail)s")


class CephUnavailable(CephError):
    """Ceph did not answer: unreachable or too slow. Trying again later may help."""

    reason = "unavailable"
    retryable = True
    message = texts.message("Ceph did not answer within %(seconds)s s.")


class CephUnreachable(CephUnavailable):
    reason = "unreachable"
    message = texts.message("Ceph could not be reached within %(seconds)s s: its monitors do not answer.")


class CephTimeout(CephUnavailable):
    reason = "timeout"
    message = texts.message(
        "Ceph did not finish the operation within %(seconds)s s: the cluster is slow or partly down."
    )


class CephPermissionDenied(CephError):
    reason = "permission"
    message = texts.message("Ceph does not allow the console's client %(client)s to do this: %(detail)s")


class CephInvalid(CephError):
    reason = "invalid"
    message = texts.message("Ceph refused the request as invalid: %(detail)s")


class InvalidName(CephError):
    reason = "invalid_name"
    message = texts.message(
        "%(name)s is not a valid name: use letters, digits, '.', '_' and '-', at most %(limit)s characters."
    )


class PoolNotFound(CephError):
    reason = "pool_not_found"
    message = texts.message("The Ceph pool %(pool)s does not exist.")


class PoolFull(CephError):
    reason = "pool_full"
    message = texts.message("The Ceph pool %(pool)s is full: free space or raise its quota, then try again.")


class ImageNotFound(CephError):
    reason = "image_not_found"
    message = texts.message("The image %(image)s does not exist in the Ceph pool %(pool)s.")


class ImageExists(CephError):
    reason = "image_exists"
    message = texts.message("An image named %(image)s exists already in the Ceph pool %(pool)s.")


class ImageBusy(CephError):
    reason = "image_busy"
    message = texts.message(
        "The image %(image)s is in use (a client has it mapped or open): stop what uses it, then try again."
    )


class ImageHasSnapshots(CephError):
    reason = "image_has_snapshots"
    message = texts.plural(
        "The image %(image)s still has %(count)s snapshot: remove it first.",
        "The image %(image)s still has %(count)s snapshots: remove them first.",
    )


class ImageNotEmpty(CephError):
    reason = "image_not_empty"
    message = texts.message("A full backup is restored only into a new, empty image; %(image)s is not.")


class ShrinkRefused(CephError):
    reason = "shrink_refused"
    message = texts.message(
        "The image %(image)s has %(size)s; it cannot shrink to %(new_size)s (the data beyond would be lost)."
    )


class SnapshotNotFound(CephError):
    reason = "snapshot_not_found"
    message = texts.message("The image %(image)s has no snapshot named %(snapshot)s.")


class SnapshotExists(CephError):
    reason = "snapshot_exists"
    message = texts.message("The image %(image)s already has a snapshot named %(snapshot)s.")


class SnapshotProtected(CephError):
    reason = "snapshot_protected"
    message = texts.message("The snapshot %(snapshot)s of %(image)s is protected: unprotect it first.")


class SnapshotInUse(CephError):
    reason = "snapshot_in_use"
    message = texts.message("The snapshot %(snapshot)s of %(image)s has clones: flatten or remove them first.")


class BackupNotFound(CephError):
    reason = "backup_not_found"
    message = texts.message("There is no backup named %(backup)s.")


class BackupExists(CephError):
    reason = "backup_exists"
    message = texts.message("A backup named %(backup)s exists already.")


class BackupIncomplete(CephError):
    """A backup whose writer stopped before its end (remove_backup clears it)."""

    reason = "backup_incomplete"
    message = texts.message("The backup %(backup)s was never finished: remove it, then take it again.")


class BackupCorrupt(CephError):
    reason = "backup_corrupt"
    message = texts.message("The backup %(backup)s is damaged (%(detail)s): nothing was restored from it.")


class ChainBroken(CephError):
    """An incremental backup that does not continue what the target image holds."""

    reason = "chain_broken"
    message = texts.message(
        "The backup %(backup)s continues snapshot %(expected)s, but the image %(image)s is at %(found)s."
    )


class ImageChanged(CephError):
    """An incremental backup applies only onto its starting snapshot's content."""

    reason = "image_changed"
    message = texts.message(
        "The image %(image)s changed since snapshot %(snapshot)s: roll it back to that snapshot before applying "
        "the backup %(backup)s."
    )
