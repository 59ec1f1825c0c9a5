"""Errors the API server answers with a `Status` body, in the words the real one uses."""


class ApiError(Exception):
    """An error the API server answers with a Status body."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self):
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if (
            self.details
        ):  # StatusDetails and StatusCause fields are all omitempty in Go: no "group": "" for the core group
            body["details"] = {k: v for k, v in self.details.items() if v not in ("", None, [])}
            if body["details"].get("causes"):
                body["details"]["causes"] = [
                    {k: v for k, v in c.items() if v not in ("", None)} for c in body["details"]["causes"]
                ]
        return body


class Expired(ApiError):
    def __init__(self, message):
        super().__init__(410, "Expired", message)


def qualified(resource):
    """How the API server names a resource in messages: deployments.apps, pods."""
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural


def about(code, reason, resource, name, message):
    """An error about one named object; its details name it as the API server does."""
    return ApiError(code, reason, message, {"name": name, "group": resource.group, "kind": resource.plural})


def not_found(resource, name):
    return about(404, "NotFound", resource, name, f'{qualified(resource)} "{name}" not found')


def already_exists(resource, name):
    return about(409, "AlreadyExists", resource, name, f'{qualified(resource)} "{name}" already exists')


def conflict(
    resource, name, why="the object has been modified; please apply your changes to the latest version and try again"
):
    return about(
        409, "Conflict", resource, name, f'Operation cannot be fulfilled on {qualified(resource)} "{name}": {why}'
    )


def invalid(resource, name, causes):
    """422 Invalid; causes: [(field, message, reason)] with reason like FieldValueRequired."""
    text = ", ".join(f"{field}: {message}" for field, message, _ in causes)
    if len(causes) > 1:
        text = "[" + text + "]"
    kind = (
        f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    )  # the qualified kind: Deployment.apps
    return ApiError(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {text}',
        {
            "name": name,
            "group": resource.group,
            "kind": resource.kind,
            "causes": [{"reason": reason, "message": message, "field": field} for field, message, reason in causes],
        },
    )


def forbidden(resource, name, message, reason="Forbidden"):
    what = f'{qualified(resource)} "{name}"' if name else qualified(resource)
    return ApiError(
        403,
        reason,
        f"{what} is forbidden: {message}",
        {"name": name, "group": resource.group, "kind": resource.plural}
        if name
        else {"group": resource.group, "kind": resource.plural},
    )


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message="the server does not allow this method on the requested resource"):
    return ApiError(405, "MethodNotAllowed", message)
