"""Firing alerts, for apps that may not import monitoring (the layers in pyproject.toml).

Monitoring's alerts app registers its source in AppConfig.ready(); a pipeline asking
"may this canary be promoted?" then asks here, and hears "no alerts" only when no source
says otherwise.

    # monitoring/alerts/apps.py
    alerting.register_firing_source(services.firing_titles)
"""

from collections.abc import Callable

# firing_source(cluster_id=, namespace=, app=) -> titles of the alerts firing there now
FiringSource = Callable[..., list[str]]

_sources: list[FiringSource] = []


def register_firing_source(source: FiringSource) -> None:
    if source not in _sources:
        _sources.append(source)


def firing_for(*, cluster_id: int, namespace: str, app: str | None = None) -> list[str]:
    """Titles of the alerts firing now on this namespace (or only this app in it)."""
    titles: list[str] = []
    for source in _sources:
        titles.extend(source(cluster_id=cluster_id, namespace=namespace, app=app))
    return titles
