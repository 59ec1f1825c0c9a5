"""A real git repository whose pushes fire a pipeline's webhook: a bare repository with a
post-receive hook that posts the provider's documented push payload (GitHub, GitLab or Gitea
shape), signed as that provider signs it, to the console; and a clone to commit and push from."""

import subprocess
import textwrap
from pathlib import Path

HOOK = textwrap.dedent(
    r'''
    #!/usr/bin/env python3
    """post-receive: one provider-shaped push delivery per updated ref."""
    import hashlib, hmac, json, subprocess, sys, urllib.error, urllib.request, uuid

    def config(name):
        return subprocess.run(["git", "config", name], capture_output=True, text=True).stdout.strip()

    url, secret, provider = config("hooks.webhookurl"), config("hooks.secret"), config("hooks.provider")
    for line in sys.stdin:
        before, after, ref = line.split()
        sha, name, email, message = subprocess.run(
            ["git", "log", "-1", "--format=%H%x00%an%x00%ae%x00%B", after], capture_output=True, text=True
        ).stdout.split("\x00", 3)
        commit = {"id": sha, "message": message.strip() + "\n", "author": {"name": name, "email": email}}
        pusher = config("hooks.pusher") or "acme-dev"
        if provider == "gitlab":
            body = {"object_kind": "push", "event_name": "push", "before": before, "after": after, "ref": ref,
                    "checkout_sha": after, "user_username": pusher, "user_name": pusher,
                    "user_email": email, "commits": [commit], "total_commits_count": 1}
        else:
            body = {"ref": ref, "before": before, "after": after, "commits": [commit], "head_commit": commit,
                    "pusher": {"name": pusher, "email": email, "username": pusher, "login": pusher},
                    "sender": {"login": pusher}}
        data = json.dumps(body).encode()
        signature = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
        delivery = str(uuid.uuid4())
        headers = {"Content-Type": "application/json"}
        if provider == "github":
            headers.update({"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
                            "X-Hub-Signature-256": "sha256=" + signature})
        elif provider == "gitea":
            headers.update({"X-Gitea-Event": "push", "X-Gitea-Delivery": delivery, "X-Gitea-Signature": signature})
        else:
            headers.update({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": delivery, "X-Gitlab-Token": secret})
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                print("webhook:", response.status, response.read().decode())
        except urllib.error.HTTPError as exc:
            print("webhook:", exc.code, exc.read().decode())
    '''
).lstrip()


def git(cwd, *args):
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def make_repo(root: Path, *, url: str, secret: str, provider: str, pusher: str = "acme-dev") -> Path:
    """The bare "server" repository with its hook, and a working clone with a first commit; returns the clone."""
    bare, work = root / "server.git", root / "work"
    git(root, "init", "--bare", str(bare))
    hook = bare / "hooks" / "post-receive"
    hook.write_text(HOOK)
    hook.chmod(0o755)
    for name, value in (("webhookurl", url), ("secret", secret), ("provider", provider), ("pusher", pusher)):
        git(bare, "config", f"hooks.{name}", value)
    git(root, "clone", str(bare), str(work))
    git(work, "config", "user.name", "Ada Dev")
    git(work, "config", "user.email", "ada@acme.example")
    git(work, "checkout", "-b", "main")
    (work / "Dockerfile").write_text("FROM nginx:1.27\nCOPY . /usr/share/nginx/html\n")
    return work


def push(work: Path, message: str, files: dict | None = None, branch: str = "main") -> str:
    """Commit (the files given, or an empty commit) and push; returns what the hook printed."""
    for name, text in (files or {}).items():
        (work / name).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "--allow-empty", "-m", message)
    return git(work, "push", "origin", f"HEAD:refs/heads/{branch}")


def head(work: Path) -> str:
    return git(work, "rev-parse", "HEAD").strip()
