"""The shell's sections: the core registers its own, feature apps theirs in AppConfig.ready();
a placeholder shows its "not built yet" page until the module that builds it takes its key."""

import ast
from pathlib import Path

import pytest
from django.urls import reverse

from console import navigation

from ..factories import mk_member, mk_tenant

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_side_bar_in_order_and_who_registers_what():
    assert [s.key for s in navigation.sections()] == [
        "dashboard",
        "clusters",
        "tenants",
        "workloads",
        "storage",
        "monitoring",
        "alerts",
        "logs",
        "topology",
        "templates",
        "pipelines",
        "oplog",
        "notifications",
    ]
    assert [s.key for s in navigation.sections() if not s.built] == []
    # the core registers its own sections only, the apps theirs (and the placeholders of their modules to come)
    assert registered_in(ROOT / "console" / "navigation.py") == ["dashboard", "clusters", "oplog", "notifications"]
    assert registered_in(ROOT / "tenants" / "apps.py") == ["tenants"]
    assert registered_in(ROOT / "workloads" / "apps.py") == ["workloads"]
    assert registered_in(ROOT / "workloads" / "storage" / "apps.py") == ["storage"]
    assert registered_in(ROOT / "workloads" / "pipelines" / "apps.py") == ["pipelines"]
    assert registered_in(ROOT / "monitoring" / "apps.py") == []
    assert registered_in(ROOT / "monitoring" / "logs" / "apps.py") == ["logs"]
    assert registered_in(ROOT / "monitoring" / "metrics" / "apps.py") == ["monitoring"]
    assert registered_in(ROOT / "monitoring" / "alerts" / "apps.py") == ["alerts"]
    assert registered_in(ROOT / "monitoring" / "topology" / "apps.py") == ["topology"]


def registered_in(path):
    calls = [
        node
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "register_section"
    ]
    return [call.args[0].value for call in calls]


def test_a_built_section_replaces_its_placeholder_whichever_comes_first(monkeypatch):
    monkeypatch.setattr(navigation, "_sections", {})
    navigation.register_section("storage", "Storage", None, "later")
    navigation.register_section("storage", "Storage", "console:dashboard", order=40)
    navigation.register_section("storage", "Storage", None, "later")  # a placeholder registered after it
    built = navigation.section("storage")
    assert built.built and built.url == reverse("console:dashboard") and built.order == 40


@pytest.mark.django_db
def test_a_placeholder_says_it_is_not_built_and_a_built_section_has_no_such_page(client, monkeypatch):
    monkeypatch.setattr(navigation, "_sections", dict(navigation._sections))
    navigation.register_section("later", "Later module", None, "Coming in a later release.")
    client.force_login(mk_member(mk_tenant("acme"), "dev"))
    body = client.get(reverse("console:section", args=["later"])).content.decode()
    assert "This section is not built yet." in body and "Later module" in body
    for built in ("workloads", "storage", "templates", "pipelines", "monitoring", "logs", "topology", "alerts"):
        assert client.get(reverse("console:section", args=[built])).status_code == 404
