"""What an API handler answers: status, body (JSON, text or a stream) and headers."""

import json


class Response:
    def __init__(self, code=200, body=None, content_type="application/json", stream=None, text=None, headers=None):
        self.code, self.content_type, self.stream, self.headers = code, content_type, stream, headers or {}
        self.body = body  # kept for content negotiation: server.py re-encodes it in protobuf when asked
        if text is not None:
            self.data = text.encode()
            self.content_type = "text/plain; charset=utf-8"
        elif body is not None:
            self.data = json.dumps(body, separators=(",", ":")).encode()
        else:
            self.data = b""
