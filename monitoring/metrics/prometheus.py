"""The gateway to a cluster's Prometheus HTTP API (the only place that talks to it):
/api/v1/query_range with PromQL, answers and refusals turned into points or a PrometheusError
whose message a page can show."""

import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import urllib3
from django.utils.translation import gettext as _

TIMEOUT = urllib3.Timeout(connect=2.0, read=8.0)
MAX_POINTS = 11_000  # Prometheus refuses more than 11,000 points per series
_pool = urllib3.PoolManager(retries=False, timeout=TIMEOUT)


class PrometheusError(Exception):
    """Prometheus could not answer; the message says why, for the page."""


def valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username and not parts.password


class Prometheus:
    def __init__(self, url: str) -> None:
        if not valid_url(url):
            raise PrometheusError(_("Not a Prometheus URL: %(url)s") % {"url": url})
        self.url = url.rstrip("/")

    def query_range(self, promql: str, start: datetime, end: datetime, step: int) -> list[tuple[dict, list]]:
        """[(labels, [(time, value)])] of a range query; NaN and infinities are left out."""
        if (end.timestamp() - start.timestamp()) / step > MAX_POINTS:
            step = int((end.timestamp() - start.timestamp()) / MAX_POINTS) + 1
        fields = {
            "query": promql,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": str(step),
        }
        try:
            response = _pool.request("POST", f"{self.url}/api/v1/query_range", fields=fields, encode_multipart=False)
        except urllib3.exceptions.HTTPError as exc:
            raise PrometheusError(
                _("Prometheus at %(url)s does not answer: %(error)s") % {"url": self.url, "error": exc}
            ) from None
        try:
            body = json.loads(response.data)
        except ValueError:
            raise PrometheusError(
                _("Prometheus at %(url)s answered %(status)s, not its API.")
                % {"url": self.url, "status": response.status}
            ) from None
        if body.get("status") != "success":
            raise PrometheusError(
                _("Prometheus refused the query: %(error)s")
                % {"error": str(body.get("error") or response.status)[:300]}
            )
        series = []
        for item in (body.get("data") or {}).get("result") or []:
            points = []
            for ts, value in item.get("values") or []:
                number = float(value)
                if number == number and abs(number) != float("inf"):
                    points.append((datetime.fromtimestamp(float(ts), UTC), number))
            series.append((item.get("metric") or {}, points))
        return series
