"""What the nested apps say before an app is deleted (workloads names none of them: a nested
app such as workloads/storage imports workloads, never the other way round). Their panels on
the app's page go through console.object_panels, like monitoring's.

    # workloads/storage/apps.py, in ready():
    panels.register_before_app_delete("storage", services.before_app_delete)
"""

_before_delete: dict[str, object] = {}


def register_before_app_delete(key, check):
    """`check(app, delete_volumes)` runs in delete_app's transaction before the job is queued:
    it may refuse (ValidationError) or tidy what the nested app keeps about the app."""
    _before_delete[key] = check


def before_app_delete(app, delete_volumes):
    for key in sorted(_before_delete):
        _before_delete[key](app, delete_volumes)
