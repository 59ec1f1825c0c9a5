"""ResourceQuotas: status.used recounted from the namespace's objects. (LimitRange defaults
and limits are admission's work: admission.py.)"""

from .. import quantity
from ..admission import namespace_usage
from ..kinds import STORED
from .context import Controller, Key

R = STORED


class Quotas(Controller):
    def sync_namespace(self, key: Key) -> None:
        for quota in self.store.iter_refs(R["resourcequotas"], key[1]):
            self.sync(("resourcequotas", key[1], quota["metadata"]["name"]))

    def sync(self, key: Key) -> None:
        quota = self.ctx.get(key)
        if quota is None:
            return
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        used = namespace_usage(self.store, key[1], list(hard))
        status = {"hard": hard, "used": {k: quantity.fmt(k, v) for k, v in used.items()}}
        self.ctx.put_status(key, status, quota.get("status") or {})
