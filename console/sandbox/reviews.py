"""The review APIs, answered on create and never stored: SelfSubjectAccessReview (`kubectl auth
can-i`), SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectRulesReview (`kubectl auth
can-i --list`) and authentication.k8s.io SelfSubjectReview (`kubectl auth whoami`)."""

import copy

from .auth import Attributes, User
from .errors import bad_request, invalid


def answer(cluster, user, resource, namespace, body):
    """The review object with its status filled in."""
    if not isinstance(body, dict):
        raise bad_request(
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/yaml"
        )
    review = copy.deepcopy(body)
    review["kind"], review["apiVersion"] = resource.kind, resource.api_version
    meta = review.setdefault("metadata", {})
    meta.setdefault("creationTimestamp", None)
    if resource.namespaced:
        meta["namespace"] = namespace
    spec = review.get("spec") if isinstance(review.get("spec"), dict) else {}
    if resource.kind == "SelfSubjectReview":
        review["status"] = {"userInfo": user.info()}
        return review
    if resource.kind == "SelfSubjectRulesReview":
        review["status"] = rules_review(cluster.rbac, user, spec.get("namespace") or "")
        return review
    if resource.kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
        if not spec.get("user") and not spec.get("groups"):
            raise invalid(
                resource,
                meta.get("name") or "",
                [
                    (
                        "spec.user",
                        'Invalid value: "": at least one of user or group must be specified',
                        "FieldValueInvalid",
                    )
                ],
            )
        user = User(
            spec.get("user") or "",
            tuple(spec.get("groups") or ()),
            spec.get("uid") or "",
            {k: tuple(v) for k, v in (spec.get("extra") or {}).items()},
        )
    attrs = attributes_of(resource, meta.get("name") or "", user, spec, namespace)
    allowed, reason = cluster.rbac.authorize(attrs)
    review["status"] = {"allowed": allowed}
    if reason:
        review["status"]["reason"] = reason
    return review


def attributes_of(resource, name, user, spec, namespace):
    on_resource, on_path = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if on_resource and on_path:
        raise invalid(
            resource,
            name,
            [
                (
                    "spec.nonResourceAttributes",
                    "Invalid value: cannot be specified in combination with resourceAttributes",
                    "FieldValueInvalid",
                )
            ],
        )
    if not on_resource and not on_path:
        raise invalid(
            resource,
            name,
            [
                (
                    "spec.resourceAttributes",
                    'Invalid value: "null": exactly one of '
                    "nonResourceAttributes or resourceAttributes must be specified",
                    "FieldValueInvalid",
                )
            ],
        )
    if on_path:
        if resource.kind == "LocalSubjectAccessReview":
            raise invalid(
                resource,
                name,
                [
                    (
                        "spec.nonResourceAttributes",
                        "Invalid value: disallowed on this kind of request",
                        "FieldValueInvalid",
                    )
                ],
            )
        return Attributes(user, on_path.get("verb") or "", on_path.get("path") or "")
    if resource.kind == "LocalSubjectAccessReview" and (on_resource.get("namespace") or "") != namespace:
        raise invalid(
            resource,
            name,
            [
                (
                    "spec.resourceAttributes.namespace",
                    f'Invalid value: "{on_resource.get("namespace") or ""}": must match metadata.namespace',
                    "FieldValueInvalid",
                )
            ],
        )
    return Attributes(
        user,
        on_resource.get("verb") or "",
        resource_request=True,
        group=on_resource.get("group") or "",
        version=on_resource.get("version") or "",
        resource=on_resource.get("resource") or "",
        subresource=on_resource.get("subresource") or "",
        namespace=on_resource.get("namespace") or "",
        name=on_resource.get("name") or "",
    )


def rules_review(rbac, user, namespace):
    rules, errors = rbac.rules_for(user, namespace)
    status = {
        "resourceRules": [
            {k: r[k] for k in ("verbs", "apiGroups", "resources", "resourceNames") if r.get(k)}
            for r in rules
            if not r.get("nonResourceURLs")
        ],
        "nonResourceRules": [
            {"verbs": r.get("verbs") or [], "nonResourceURLs": r["nonResourceURLs"]}
            for r in rules
            if r.get("nonResourceURLs")
        ],
        "incomplete": bool(errors),
    }
    if errors:
        status["evaluationError"] = ", ".join(errors)
    return status
