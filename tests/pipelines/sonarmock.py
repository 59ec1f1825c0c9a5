"""A small local HTTP server speaking the documented shape of SonarQube's
GET /api/qualitygates/project_status and GET /api/ce/task (a mock: SonarQube itself cannot be
installed here). It answers gates per project key from `gates`, tasks per id from `tasks`
(`task_status` for an id it was not told of), 401 without the expected token, 404 for unknown projects."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "squ_0123456789abcdef"


class SonarMock:
    def __init__(self, gates, tasks=None, task_status="SUCCESS"):
        self.gates, self.tasks, self.task_status, self.requests = gates, dict(tasks or {}), task_status, []
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                mock.requests.append((parts.path, query))
                expected = "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self.answer(401, {"errors": [{"msg": "Authentication is required"}]})
                if parts.path == "/api/ce/task":
                    task_id = query.get("id", "")
                    status = mock.tasks.get(task_id, mock.task_status)
                    if isinstance(status, list):  # the statuses it answers in turn (PENDING, ..., SUCCESS)
                        status = status.pop(0) if len(status) > 1 else status[0]
                    task = {"id": task_id, "type": "REPORT", "status": status}
                    if status == "FAILED":
                        task["errorMessage"] = "Unsupported language: cobol"
                    return self.answer(200, {"task": task})
                if parts.path != "/api/qualitygates/project_status":
                    return self.answer(404, {"errors": [{"msg": "Unknown url"}]})
                gate = mock.gates.get(query.get("projectKey"))
                if gate is None:
                    return self.answer(404, {"errors": [{"msg": f"Project '{query.get('projectKey')}' not found"}]})
                self.answer(200, {"projectStatus": gate})

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


PASSING = {
    "status": "OK",
    "conditions": [
        {"status": "OK", "metricKey": "new_coverage", "comparator": "LT", "errorThreshold": "80", "actualValue": "91.2"}
    ],
}
FAILING = {
    "status": "ERROR",
    "conditions": [
        {
            "status": "ERROR",
            "metricKey": "new_coverage",
            "comparator": "LT",
            "errorThreshold": "80",
            "actualValue": "41.0",
        },
        {"status": "OK", "metricKey": "new_bugs", "comparator": "GT", "errorThreshold": "0", "actualValue": "0"},
    ],
}
