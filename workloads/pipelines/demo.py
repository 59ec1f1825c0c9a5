"""The pipelines' part of the demo (a step of `manage.py seed_demo`): the demo shop's storefront
gets a pipeline, made by the namespace's creator, image builds enabled for the demo tenant by the
demo's operator, and one run of it (built, tested and rolled out by the worker), so the run
history, its logs and the dashboard's panel show something from the start. Made once, with this
app's services, when the storefront app runs."""

from console import demo as console_demo
from console.demo import Demo
from workloads.models import App

from . import services
from .models import Pipeline

NAMESPACE = "demo-shop"
APP = "storefront"
NAME = "storefront-ci"
SETTINGS = {
    "app": APP,
    "repository_url": "https://git.demo.local/shop/storefront.git",
    "branch": "main",
    "dockerfile": "Dockerfile",
    "context": ".",
    "image_repository": "registry.local/shop/storefront",
    "registry_username": "",
    "test_command": 'echo "running 24 tests"; sleep 20; echo "24 passed"',
    "sonar_url": "",
    "sonar_project_key": "",
    "strategy": "rolling",
    "canary_weight": 20,
    "promote_after_minutes": 10,
    "concurrency": "queue",
    "schedule_minutes": 0,
}


def seed_demo_pipeline(demo: Demo) -> None:
    project = demo.created.get(f"namespace:{NAMESPACE}")
    if project is None or demo.operator is None:
        return

    def app_runs() -> bool:
        return App.objects.filter(project=project, name=APP, status="running").exists()

    demo.when_ready(f"app {APP}", app_runs, lambda: _make(demo, project))


def _make(demo: Demo, project) -> None:
    project.refresh_from_db()
    if Pipeline.objects.filter(project=project, name=NAME).exists():
        return
    user = project.created_by
    pipeline, _secret = services.create_pipeline(project, acting_user=user, name=NAME, **SETTINGS)
    services.set_builds(pipeline, acting_user=demo.operator, enabled=True)
    run = services.run_pipeline(pipeline, acting_user=user)
    demo.say(f"created demo pipeline {NAME!r} in {NAMESPACE}; its run #{run.number} is queued")


def register() -> None:
    console_demo.register_step("pipelines", seed_demo_pipeline, order=40)
