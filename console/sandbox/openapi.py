"""Just enough OpenAPI v3 for kubectl: per group-version documents whose PATCH operations
carry x-kubernetes-group-version-kind and the fieldValidation parameter, so kubectl leaves
field validation to the server (`kubectl apply` works with default flags). There are no
schemas: kubectl then computes strategic merge patches from its compiled-in types."""

import hashlib
import json


def group_versions(resources):
    seen = []
    for r in resources:
        if (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen


def gv_path(group, version):
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def document(resources, group, version):
    paths = {}
    params = [
        {"name": n, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
        for n in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
    ]
    for r in resources:
        if (r.group, r.version) != (group, version):
            continue
        prefix = "/" + gv_path(group, version) + ("/namespaces/{namespace}" if r.namespaced else "")
        gvk = {"group": group, "version": version, "kind": r.kind}
        operation = {
            "get": {
                "operationId": f"read{r.kind}",
                "x-kubernetes-action": "get",
                "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK"}},
            }
        }
        if "patch" in r.verbs:
            operation["patch"] = {
                "operationId": f"patch{r.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": params,
                "requestBody": {
                    "content": {
                        t: {"schema": {"type": "object"}}
                        for t in (
                            "application/json-patch+json",
                            "application/merge-patch+json",
                            "application/apply-patch+yaml",
                        )
                    }
                },
                "responses": {"200": {"description": "OK"}},
            }
        paths[f"{prefix}/{r.plural}/{{name}}"] = operation
        paths[f"{prefix}/{r.plural}"] = {
            "get": {
                "operationId": f"list{r.kind}",
                "x-kubernetes-action": "list",
                "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0-sandbox"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def root(resources):
    paths = {}
    for group, version in group_versions(resources):
        body = json.dumps(document(resources, group, version), sort_keys=True).encode()
        digest = hashlib.sha512(body).hexdigest()[:128].upper()
        paths[gv_path(group, version)] = {"serverRelativeURL": f"/openapi/v3/{gv_path(group, version)}?hash={digest}"}
    return {"paths": paths}
