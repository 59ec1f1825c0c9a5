"""SonarQube, as far as a pipeline asks it, with the user token as HTTP basic user (SonarQube's
documented token authentication):

- whether the report the scanner uploaded is processed: GET <server>/api/ce/task?id=<the task
  id the scanner printed> answers {"task": {"status": "PENDING" | "IN_PROGRESS" | "SUCCESS" |
  "FAILED" | "CANCELED", "errorMessage"?}};
- the project's quality gate: GET <server>/api/qualitygates/project_status?projectKey=<key>
  [&branch=<branch>] answers {"projectStatus": {"status": "OK" | "WARN" | "ERROR" | "NONE",
  "conditions": [{"status", "metricKey", "comparator", "errorThreshold", "actualValue"}, ...]}}.
"""

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from console import documents

TIMEOUT = 10
MAX_BYTES = 512 * 1024


class SonarError(Exception):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is answered as it is: the console goes nowhere else


@dataclass
class Gate:
    status: str
    conditions: list[dict] = field(default_factory=list)

    def failing(self) -> str:
        return ", ".join(
            f"{c.get('metricKey')} {c.get('actualValue')} ({c.get('comparator')} {c.get('errorThreshold')})"
            for c in self.conditions
            if c.get("status") == "ERROR"
        )

    def report(self) -> str:
        lines = [f"quality gate: {self.status}"]
        lines += [
            f"  {c.get('status', ''):<5} {c.get('metricKey', '')}: {c.get('actualValue', '')} "
            f"(error {c.get('comparator', '')} {c.get('errorThreshold', '')})"
            for c in self.conditions
        ]
        return "\n".join(lines) + "\n"


def project_status(server: str, token: str, project_key: str, branch: str = "") -> Gate:
    query = {"projectKey": project_key, **({"branch": branch} if branch else {})}
    data = _get(server, token, "/api/qualitygates/project_status", query)
    try:
        status = data["projectStatus"]
        return Gate(str(status["status"]), [c for c in status.get("conditions") or [] if isinstance(c, dict)])
    except (KeyError, TypeError, AttributeError) as exc:
        raise SonarError(f"SonarQube's answer is not a quality gate status: {exc}") from None


def ce_task(server: str, token: str, task_id: str) -> tuple[str, str]:
    """(status, error message) of the Compute Engine task that processes a scanner's report."""
    data = _get(server, token, "/api/ce/task", {"id": task_id})
    try:
        task = data["task"]
        return str(task["status"]), str(task.get("errorMessage") or "")
    except (KeyError, TypeError, AttributeError) as exc:
        raise SonarError(f"SonarQube's answer is not a task: {exc}") from None


def _get(server: str, token: str, path: str, query: dict) -> dict:
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SonarError(f"SonarQube server {server!r} is not an http(s) URL")
    url = server.rstrip("/") + path + "?" + urlencode(query)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{token}:".encode()).decode())
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        detail = ""
        try:
            errors = json.loads(exc.read(4096) or b"{}").get("errors") or []
            detail = "; ".join(str(e.get("msg", "")) for e in errors if isinstance(e, dict))
        except (ValueError, AttributeError):
            pass
        raise SonarError(f"SonarQube answered {exc.code}{': ' + detail if detail else ''}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SonarError(f"SonarQube at {server} did not answer: {getattr(exc, 'reason', exc)}") from None
    try:
        data = documents.load_json(body.decode("utf-8", errors="replace"), max_bytes=MAX_BYTES)
    except documents.DocumentError as exc:
        raise SonarError(f"SonarQube's answer is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SonarError("SonarQube's answer is not a JSON object")
    return data
