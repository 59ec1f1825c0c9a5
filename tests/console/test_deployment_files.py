"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine): these tests check
that what they name exists and that the production settings start with their environment."""

import os
import re
import subprocess
import sys

import yaml
from django.core.management import get_commands

from ..live import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
CONSOLE_SERVICES = ("migrate", "web", "worker", "beat", "watcher")


def compose_environment(service):
    """The service's environment with ${VAR:?...} / ${VAR:-default} filled as compose would."""
    values = {"SECRET_KEY": "compose-test-secret", "ALLOWED_HOSTS": "console.example.com"}

    def fill(match):
        name, default = match.group(1), match.group(3) or ""
        return values.get(name, default if match.group(2) == ":-" else "")

    return {
        key: re.sub(r"\$\{(\w+)(:[?-])?([^}]*)\}", fill, str(value))
        for key, value in COMPOSE["services"][service]["environment"].items()
    }


def test_every_process_of_the_design_is_a_service():
    assert set(COMPOSE["services"]) == {"postgres", "redis", "proxy", *CONSOLE_SERVICES}
    for name in CONSOLE_SERVICES:
        environment = COMPOSE["services"][name]["environment"]
        assert environment["CONSOLE_ENV"] == "production"
        assert {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"} <= set(environment)


def test_the_proxy_is_the_address_and_web_can_be_scaled():
    """`docker compose up --scale web=N`: only the proxy publishes a port (N web containers
    could not share one), and its configuration, mounted from the repository, sends
    requests and websocket upgrades to the web service."""
    proxy, web = COMPOSE["services"]["proxy"], COMPOSE["services"]["web"]
    assert "ports" not in web and proxy["ports"] == ["8000:8000"]
    source = proxy["volumes"][0].split(":")[0]
    config = (ROOT / source).read_text()
    assert "server web:8000 resolve;" in config and "proxy_pass http://console;" in config
    assert "proxy_set_header Upgrade $http_upgrade;" in config
    assert compose_environment("web")["TRUST_X_FORWARDED_FOR"] == "true"


def test_commands_name_what_exists():
    commands = get_commands()
    for name in CONSOLE_SERVICES:
        command = COMPOSE["services"][name]["command"]
        if command[:2] == ["python", "manage.py"]:
            assert command[2] in commands, command
        elif command[0] == "celery":
            assert command[1:3] == ["-A", "console"] and command[3] in ("worker", "beat")
        else:
            assert command[0] == "daphne" and command[-1] == "console.asgi:application"
    assert '"console.asgi:application"' in DOCKERFILE.splitlines()[-1]
    for source in re.findall(r"^COPY (\S+) ", DOCKERFILE, re.M):
        assert (ROOT / source).exists(), source


def test_production_settings_start_with_the_compose_environment_and_refuse_without_it():
    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        **compose_environment("web"),
    }
    checked = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stderr
    del environment["SECRET_KEY"]
    refused = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr
