"""The operation log's anchor: the chain's head, kept where the database cannot rewrite it.

The hash chain shows an entry changed or removed by the broken link after it, but not the
newest entries removed (nothing comes after them) nor the whole log emptied. So once an
entry is committed, a checkpoint (its id, the number of entries up to it, its hash, the
time) signed with a key derived from SECRET_KEY, which the database and its role never
hold, is appended to a file outside the database (OPLOG_ANCHOR_PATH; a volume in
production) and copied to the 'console.oplog.anchor' logger for an external sink.
Verification compares the database with the newest valid checkpoint.

One checkpoint per entry, each a single small write() with O_APPEND: on Linux such writes
to a local file never interleave, so web and worker processes append without a lock, at a
cost of microseconds; and no moment passes with the newest entries unanchored (writing the
head at most once a second would leave the tail of every burst deletable unseen). The file
grows by about 200 bytes per entry.
"""

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_noop

from console.oplog.models import OperationLogEntry

log = logging.getLogger(__name__)
sink = logging.getLogger("console.oplog.anchor")

KEY_SALT = "console.oplog.anchor"
TAIL_BYTES = 16 * 1024  # commits may be anchored slightly out of order: the newest head is among the last lines


@dataclass(frozen=True)
class Checkpoint:
    id: int
    count: int
    hash: str
    at: str


@dataclass
class Anchor:
    head: Checkpoint | None = None  # the newest valid checkpoint
    bad: list = field(default_factory=list)  # ids claimed by lines whose signature does not verify


def _signature(checkpoint, secret):
    message = f"{checkpoint.id}:{checkpoint.count}:{checkpoint.hash}:{checkpoint.at}"
    return salted_hmac(KEY_SALT, message, secret=secret, algorithm="sha256").hexdigest()


def _parse(line):
    """(checkpoint, signature valid) of one line; (None, False) when it is no checkpoint at all."""
    try:
        data = json.loads(line)
        checkpoint = Checkpoint(int(data["id"]), int(data["count"]), str(data["hash"]), str(data["at"]))
        signature = str(data["sig"])
    except (ValueError, KeyError, TypeError):
        return None, False
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]  # a rotated key still reads old checkpoints
    return checkpoint, any(constant_time_compare(signature, _signature(checkpoint, secret)) for secret in secrets)


def _path():
    return Path(settings.OPLOG_ANCHOR_PATH)


def read():
    """All the checkpoints: the newest valid one, and the lines that are not valid ones."""
    anchor = Anchor()
    try:
        with _path().open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if not line.strip():
                    continue
                checkpoint, valid = _parse(line)
                if not valid:
                    anchor.bad.append(checkpoint.id if checkpoint else None)
                elif anchor.head is None or checkpoint.id > anchor.head.id:
                    anchor.head = checkpoint
    except FileNotFoundError:
        pass  # nothing anchored yet
    return anchor


def _newest_in_tail():
    try:
        with _path().open("rb") as file:
            start = file.seek(max(file.seek(0, os.SEEK_END) - TAIL_BYTES, 0))
            lines = (
                file.read().decode("utf-8", errors="replace").splitlines()[1 if start else 0 :]
            )  # a line started before is cut
    except FileNotFoundError:
        return None
    valid = [checkpoint for checkpoint, ok in map(_parse, lines) if ok]
    return max(valid, key=lambda checkpoint: checkpoint.id, default=None)


def write_checkpoint(entry_id, entry_hash):
    """Anchor a committed entry. The count carries on from the previous checkpoint rather than
    being recounted, so entries deleted below it still show as missing later."""
    try:
        base = _newest_in_tail()
        if base is not None and base.id >= entry_id:
            return  # a newer head is anchored already; its hash covers this entry
        newer = OperationLogEntry.objects.filter(id__lte=entry_id)
        count = (base.count + newer.filter(id__gt=base.id).count()) if base else newer.count()
        checkpoint = Checkpoint(entry_id, count, entry_hash, timezone.now().isoformat())
        line = json.dumps(
            {**checkpoint.__dict__, "sig": _signature(checkpoint, settings.SECRET_KEY)}, separators=(",", ":")
        )
        path = _path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
        sink.info("%s", line)
    except Exception:  # the entry is committed; a lost checkpoint only weakens the next check
        log.exception("could not anchor operation log entry #%s in %s", entry_id, settings.OPLOG_ANCHOR_PATH)


def compare(anchor, found, hash_at_head):
    """What the database shows against the anchor, as (entry id, reason, entries missing), or None.

    found: entries in the database with ids up to the head's; hash_at_head: the hash of the
    entry with the head's id, None when there is none."""
    head = anchor.head
    if head is not None:
        if hash_at_head is None or found < head.count:
            return (
                head.id,
                gettext_noop("entries recorded up to this one are missing: the newest entries were deleted"),
                max(head.count - found, 1),
            )
        if hash_at_head != head.hash or found != head.count:
            return (
                head.id,
                gettext_noop("the entries up to this one differ from their checkpoint: the log was rewritten"),
                0,
            )
    if anchor.bad:
        return (
            anchor.bad[0],
            gettext_noop(
                "a checkpoint in the anchor file has a wrong signature: the file was changed outside the console"
            ),
            0,
        )
    return None
