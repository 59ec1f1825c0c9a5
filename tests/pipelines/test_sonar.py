"""The quality gate through SonarQube's web API, against a local server speaking its documented
shape (a mock: tests/pipelines/sonarmock.py)."""

import pytest

from workloads.pipelines import sonar

from .sonarmock import FAILING, PASSING, TOKEN, SonarMock


def test_gate_status_and_failing_conditions():
    with SonarMock({"acme:web": PASSING, "acme:shop": FAILING}) as mock:
        gate = sonar.project_status(mock.url, TOKEN, "acme:web", "main")
        assert gate.status == "OK" and gate.failing() == ""
        assert mock.requests[-1] == ("/api/qualitygates/project_status", {"projectKey": "acme:web", "branch": "main"})
        gate = sonar.project_status(mock.url + "/", TOKEN, "acme:shop")
        assert gate.status == "ERROR" and gate.failing() == "new_coverage 41.0 (LT 80)"
        assert "ERROR new_coverage: 41.0" in gate.report()
        with pytest.raises(sonar.SonarError, match="401: Authentication is required"):
            sonar.project_status(mock.url, "wrong", "acme:web")
        with pytest.raises(sonar.SonarError, match="404: Project 'nope' not found"):
            sonar.project_status(mock.url, TOKEN, "nope")
    with pytest.raises(sonar.SonarError, match="did not answer"):
        sonar.project_status(mock.url, TOKEN, "acme:web")
    with pytest.raises(sonar.SonarError, match="not an http"):
        sonar.project_status("file:///etc/passwd", TOKEN, "acme:web")
