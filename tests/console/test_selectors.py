import pytest

from console.clusters import selectors
from console.clusters.models import Cluster, MirroredObject

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects():
    cluster = Cluster.objects.create(name="c", server="s", context="x", kubeconfig_encrypted="x")
    rows = {
        "web": {"app": "web", "tier": "front", "app.kubernetes.io/name": "shop"},
        "api": {"app": "api", "tier": "back"},
        "db": {"app": "db", "tier": "back", "canary": "true"},
        "bare": {},
    }
    for name, labels in rows.items():
        MirroredObject.objects.create(
            cluster=cluster,
            kind="Pod",
            namespace="n",
            name=name,
            uid=name,
            resource_version="1",
            labels=labels,
            object={},
        )


@pytest.mark.parametrize(
    "selector,expected",
    [
        ("app=web", {"web"}),
        ("app==web", {"web"}),
        ("tier!=back", {"web", "bare"}),
        ("tier in (front, back)", {"web", "api", "db"}),
        ("tier notin (back)", {"web", "bare"}),
        ("canary", {"db"}),
        ("!canary", {"web", "api", "bare"}),
        ("tier=back,!canary", {"api"}),
        ("app.kubernetes.io/name=shop", {"web"}),
        ("", {"web", "api", "db", "bare"}),
    ],
)
def test_selectors_match_like_kubernetes(objects, selector, expected):
    assert set(MirroredObject.objects.filter(selectors.to_q(selector)).values_list("name", flat=True)) == expected


@pytest.mark.parametrize("bad", ["app=web,(", "tier in ()", "a b", "x=)", "app=w e b"])
def test_malformed_selectors_are_named(bad):
    with pytest.raises(selectors.SelectorError):
        selectors.parse(bad)
