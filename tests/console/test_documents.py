"""The hardened loader for user documents: limits come before the parser spends memory
or recursion on a document, and every refusal says what to change."""

import time
import tracemalloc

import pytest
from django.urls import reverse
from django.utils import translation

from console import documents
from console.documents import DocumentError


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


# 392 bytes: six levels of ten aliases stand for 10^6 strings once the data is walked.
ALIAS_BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def test_an_alias_bomb_is_refused_at_once_and_cheaply():
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(DocumentError, match="anchors and aliases"):
        documents.load_yaml(ALIAS_BOMB)
    elapsed = time.monotonic() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 5 * 1024 * 1024


def test_a_single_anchor_is_refused_with_its_line():
    with pytest.raises(DocumentError, match=r"line 2"):
        documents.load_yaml("a: 1\nb: &x {c: 2}\n")


@pytest.mark.parametrize(
    "text", ["[" * 2000 + "]" * 2000, "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 200)), "{a: " * 3000]
)
def test_deep_nesting_is_refused_before_python_recursion_runs_out(text):
    with pytest.raises(DocumentError, match="nested more than 64 levels"):
        documents.load_yaml(text)


def test_size_and_count_limits():
    with pytest.raises(DocumentError, match="larger than 1 KB"):
        documents.load_yaml("a: " + "x" * 2000, max_bytes=1024)
    with pytest.raises(DocumentError, match="At most 3 documents"):
        documents.load_yaml_documents("---\na: 1\n" * 4, max_documents=3)
    with pytest.raises(DocumentError, match="more than"):
        documents.load_yaml("[" + ",".join(["1"] * (documents.MAX_NODES + 1)) + "]", max_bytes=10 * 1024 * 1024)


def test_ordinary_documents_load_as_plain_data():
    assert documents.load_yaml_documents("a: 1\n---\n---\nb: [x, {c: true}]\n") == [{"a": 1}, {"b": ["x", {"c": True}]}]
    assert documents.load_yaml("") is None
    assert documents.load_json('{"a": [1, {"b": "[[[["}]}') == {"a": [1, {"b": "[[[["}]}


def test_yaml_errors_name_the_line():
    with pytest.raises(DocumentError, match="not valid YAML at line 2, column"):
        documents.load_yaml("a: 1\nb: c: d\n")


@pytest.mark.parametrize(
    "text,message",
    [
        ("[" * 65 + "]" * 65, "nested more than 64 levels"),
        ("[" * 100_000, "nested more than 64 levels"),
        ('{"a": 1', "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_json_limits(text, message):
    with pytest.raises(DocumentError, match=message):
        documents.load_json(text)


def test_json_depth_ignores_brackets_inside_strings():
    assert documents.json_depth(r'{"a": "[[[\"{{{", "b": [[1]]}') == 3


@pytest.mark.django_db
def test_a_tenant_member_importing_an_alias_bomb_gets_a_400_fast(client):
    """The import page, which tenant members use, answers at once instead of stalling."""
    from ..factories import create_two_tenants

    _cluster, acme, _globex, project, users = create_two_tenants()
    client.force_login(users["tenant_member"])
    url = reverse("workloads:app_import", args=[acme.name, project.name])
    started = time.monotonic()
    # A ConfigMap carrying the bomb passes every check a plain mapping would fail, so the
    # import used to copy and dump all 10^6 strings.
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nlol:\n" + "".join(
        f"  {line}\n" for line in ALIAS_BOMB.splitlines()
    )
    response = client.post(url, {"manifests": bomb})
    assert response.status_code == 400
    assert "anchors and aliases" in response.content.decode()
    assert time.monotonic() - started < 2
