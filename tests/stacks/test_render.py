"""Rendering without a cluster: typed values, references checked with their lines, values
that can never add YAML structure, and the import's rules on what a template may hold."""

import pytest
from django.core.exceptions import ValidationError

from workloads.stacks import render

PARAMETERS = [
    {"name": "name", "type": "string", "default": "web", "pattern": "[a-z]+"},
    {"name": "replicas", "type": "int", "default": 2, "min": 1, "max": 5},
    {"name": "size", "type": "quantity", "default": "1Gi"},
    {"name": "image", "type": "image", "default": "nginx:1.27"},
    {"name": "debug", "type": "bool", "default": False},
    {"name": "level", "type": "enum", "default": "info", "choices": ["info", "debug"]},
    {"name": "note", "type": "string", "default": "plain"},
]
TEXT = """apiVersion: v1
kind: ConfigMap
metadata: {name: "${name}-config"}
data:
  note: "${note}"
  level: "${level}"
  literal: "$${not_a_parameter}"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "${name}"
spec:
  replicas: "${replicas}"
  template:
    spec:
      containers:
      - name: c
        image: "${image}"
        env: [{name: DEBUG, value: "debug=${debug}"}]
"""


def params():
    return render.check_parameters(PARAMETERS)


def test_values_keep_their_type_and_land_as_leaves():
    objects, values = render.render(TEXT, params(), {"replicas": "3", "note": "a: b\n---\nkind: Secret"}, "acme-web")
    config, deployment = objects  # ConfigMap first: creation order
    assert deployment["spec"]["replicas"] == 3  # a whole-value reference keeps the int
    assert config["data"]["note"] == "a: b\n---\nkind: Secret"  # text, never structure
    assert config["data"]["literal"] == "${not_a_parameter}"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "debug=false"
    assert deployment["metadata"]["namespace"] == "acme-web"
    assert deployment["spec"]["template"]["metadata"]["labels"]["caas.io/app"] == "web"  # an app of the console
    assert values["replicas"] == 3 and values["debug"] is False


@pytest.mark.parametrize(
    "values,message",
    [
        ({"replicas": "9"}, "replicas: at most 5"),
        ({"replicas": "two"}, "replicas: give a whole number"),
        ({"size": "1 GB"}, "is not a quantity"),
        ({"image": "Bad Image"}, "not a valid image reference"),
        ({"debug": "maybe"}, "answer true or false"),
        ({"level": "trace"}, "choose one of info, debug"),
        ({"name": "Web\nkind: Secret"}, "does not match"),
        ({"unknown": "1"}, "Unknown parameters: unknown"),
    ],
)
def test_bad_values_are_refused_by_type(values, message):
    with pytest.raises(ValidationError, match=message):
        render.render(TEXT, params(), values, "acme-web")


@pytest.mark.parametrize(
    "text,message",
    [
        (TEXT + "    labels: {x: ${missing}}\n", "Line 21: \\${missing} is not a declared parameter"),
        ("kind: [", "not valid YAML at line 1"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}",
            "Document 2: Secret objects cannot be part of a template .*\\(line 5\\)",
        ),
        ("apiVersion: v1\nkind: Namespace\nmetadata: {name: evil}", "cluster-scoped object"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: kube-system}",
            "is for namespace kube-system",
        ),
        ('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {"${name}": x}', "not allowed in keys"),
        ("a: &x 1\nb: *x", "anchors and aliases"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}",
            "appears twice",
        ),
    ],
)
def test_bad_manifests_get_line_numbered_errors(text, message):
    with pytest.raises(ValidationError, match=message):
        render.validate_version(text, params())


@pytest.mark.parametrize(
    "schema,message",
    [
        ([{"name": "Bad-Name"}], "must be lower-case letters"),
        ([{"name": "a"}, {"name": "a"}], "declared twice"),
        ([{"name": "a", "type": "float"}], "the type must be one of"),
        ([{"name": "a", "type": "int", "default": "x"}], "its default is not valid"),
        ([{"name": "a", "pattern": "("}], "no regular expression"),
        ([{"name": "a", "pattern": "(a+)+$"}], "repeats a group that repeats itself"),
        ([{"name": "a", "pattern": "([a-z]*-?)*"}], "repeats a group that repeats itself"),
        ([{"name": "a", "type": "enum"}], "needs a list of choices"),
        ([{"name": "a", "exec": "rm -rf /"}], "unknown keys exec"),
        ({"name": "a"}, "write a list"),
    ],
)
def test_bad_parameter_schemas_are_explained(schema, message):
    with pytest.raises(ValidationError, match=message):
        render.check_parameters(schema)


def test_network_policies_and_service_accounts_are_template_kinds():
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}}\n"
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: robot}\n"
    )
    objects = render.validate_version(text, [])
    assert [o["kind"] for o in objects] == ["ServiceAccount", "NetworkPolicy"]  # dependency order


def test_every_shipped_description_is_in_the_translation_list():
    """The recommended templates' English lives in their YAML; recommended/texts.py hands it
    to the catalogue, so a description added to a file without it would stay English."""
    from workloads.stacks import recommended
    from workloads.stacks.recommended.texts import TEXTS

    wanted = set()
    for path in recommended.files():
        data = recommended.read(path)
        wanted |= {data["description"]} | {p["description"] for p in data["parameters"] if p.get("description")}
    assert wanted - {""} <= set(TEXTS)
