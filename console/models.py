"""The console's models live with their concern; Django loads them from here."""

from console.accounts.models import User  # noqa: F401
from console.clusters.models import Cluster, MirroredObject, WatchCursor  # noqa: F401
from console.jobs.models import Job  # noqa: F401
from console.notifications.models import Notification  # noqa: F401
from console.oplog.models import AppendOnlyQuerySet, ChainVerification, OperationLogEntry  # noqa: F401
