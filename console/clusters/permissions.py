"""What the console's own identity must be allowed to do on a cluster, and the check of it.

A kubeconfig that can read the cluster is not one that can run it: a view-only identity
passes the connection probe and then fails at the first namespace job. So when a cluster is
added or refreshed, the console asks the API server (SelfSubjectAccessReview, the same
question as `kubectl auth can-i`) about every permission in one list, stores what is
missing on the Cluster, and features refuse up front on a cluster whose identity lacks
what they need.

The list is assembled from features: the console itself registers the resource mirror
(list and watch of every mirrored kind) and impersonation (tenant members' actions are
sent impersonated); feature apps register theirs from their AppConfig.ready().
"""

from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console.kube.errors import ApiRefused, ClusterError
from console.kube.kinds import MIRRORED_KINDS

CHECK_WORKERS = 8  # reviews in flight at once: a real API server answers each in a few ms
CHECK_SECONDS = 20  # the whole check; the API server's slowness must not hang a page for long


@dataclass(frozen=True)
class Need:
    verb: str
    group: str
    resource: str
    subresource: str = ""

    @property
    def text(self):
        """As `kubectl auth can-i` takes it: "patch namespaces", "get pods/log"."""
        return f"{self.verb} {self.resource}" + (f"/{self.subresource}" if self.subresource else "")

    def as_dict(self, features):
        return {
            "verb": self.verb,
            "group": self.group,
            "resource": self.resource,
            "subresource": self.subresource,
            "text": self.text,
            "features": list(features),
        }


def needs_for(verbs, kind, subresource=""):
    """[Need] for each verb on a console.kube.kinds.Kind."""
    return [Need(verb, kind.group, kind.plural, subresource) for verb in verbs]


@dataclass(frozen=True)
class Feature:
    label: str
    consequence: str  # what does not work without its permissions
    needs: object  # callable returning [Need]; called at check time, so it follows the code


_features = {}


def register(name, label, consequence, needs):
    _features[name] = Feature(label, consequence, needs)


def required():
    """{Need: [feature names]} for every registered feature, in registration order."""
    wanted = {}
    for name, feature in _features.items():
        for need in feature.needs():
            wanted.setdefault(need, [])
            if name not in wanted[need]:
                wanted[need].append(name)
    return wanted


def check(api):
    """What the identity behind `api` (a ClusterAPI as the console) may not do: a list of
    Need.as_dict(features), stored on the Cluster. Raises ClusterError when the API
    server does not answer (in time)."""
    wanted = required()
    pool = ThreadPoolExecutor(CHECK_WORKERS, thread_name_prefix="access-review")
    try:
        futures = {pool.submit(api.access_review, n.verb, n.group, n.resource, n.subresource): n for n in wanted}
        done, pending = wait(futures, timeout=CHECK_SECONDS, return_when=FIRST_EXCEPTION)
        for future in done:
            exc = future.exception()
            if isinstance(exc, ApiRefused) and exc.status == 403:
                # Not even allowed to ask (every authenticated user may, unless the cluster took
                # it away): nothing can be known, so nothing is assumed.
                return [Need("create", "authorization.k8s.io", "selfsubjectaccessreviews").as_dict(list(_features))]
            if isinstance(exc, ApiRefused):
                raise ClusterError("error", f"{exc.status} {exc.message}")
            if exc is not None:
                raise exc
        if pending:
            raise ClusterError(
                "unreachable", message=_("The API server did not answer the console's permission checks in time.")
            )
        return [need.as_dict(wanted[need]) for future, need in futures.items() if not future.result()]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


# --- reading the stored result --------------------------------------------------------------


def missing(cluster, *features):
    """The cluster's missing permissions (those that matter to `features`, or all)."""
    return [
        m for m in cluster.permissions_missing or [] if not features or set(features) & set(m.get("features") or [])
    ]


def summary(entries):
    return ", ".join(m["text"] for m in entries)


def refusal(cluster, *features):
    """Why a feature will not run on this cluster ("" when it may): refusing up front beats a
    job failing halfway with the cluster's 403."""
    lacking = missing(cluster, *features)
    if not lacking:
        return ""
    return _(
        "Cluster %(cluster)s was added for read-only use: the console's identity may not %(missing)s. "
        "An operator must grant these permissions and refresh the cluster."
    ) % {"cluster": cluster.name, "missing": summary(lacking)}


def affected_features(entries):
    """[(label, consequence)] of the features the missing permissions break."""
    names = []
    for entry in entries:
        names += [name for name in entry.get("features") or [] if name not in names]
    return [(feature.label, feature.consequence) for name, feature in _features.items() if name in names]


def report(cluster):
    """What the cluster page and the add/refresh messages show."""
    entries = cluster.permissions_missing or []
    rows = [
        {
            **entry,
            "needed_for": ", ".join(
                str(_features[name].label) for name in entry.get("features") or [] if name in _features
            ),
        }
        for entry in entries
    ]
    return {
        "checked_at": cluster.permissions_checked_at,
        "missing": rows,
        "summary": summary(entries),
        "features": affected_features(entries),
    }


# --- what the console itself needs ------------------------------------------------------------


def _mirror_needs():
    return [need for kind in MIRRORED_KINDS for need in needs_for(("list", "watch"), kind)]


def _impersonation_needs():
    return [Need("impersonate", "", "users"), Need("impersonate", "", "groups")]


register(
    "mirror",
    gettext_lazy("Resource mirror"),
    gettext_lazy(
        "The watcher cannot list and watch these kinds: resource pages, topology, search and live updates miss them."
    ),
    _mirror_needs,
)
register(
    "impersonation",
    gettext_lazy("Acting for tenant members"),
    gettext_lazy(
        "Tenant members' actions are sent to the cluster impersonated as them; "
        "without impersonation none of them work, so tenant namespaces and apps are refused on this cluster."
    ),
    _impersonation_needs,
)
