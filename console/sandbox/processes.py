"""The main process of a run-to-completion container (a Job's pod: restartPolicy Never or
OnFailure), as the kubelet would start it: `sh -c 'script'` (or `sh file`, `bash -c ...`)
runs in the sandbox's small shell over the container's environment and files, so the exit
status and the output are those of the script (`exit 1` fails, `echo` prints, `sleep 30`
lasts 30 simulated seconds); Kaniko's executor (gcr.io/kaniko-project/executor) "builds"
and "pushes" its --destination, writing the image digest to --digest-file (the termination
message when that is /dev/termination-log, as Kaniko is used in Jobs); SonarSource's scanner
(sonarsource/sonar-scanner-cli) "analyses" /usr/src for SONAR_HOST_URL with SONAR_TOKEN and
-Dsonar.* arguments, printing its report's task URL (the sandbox reaches no SonarQube: the
console asks the server itself). Any other program keeps the kubelet's plain behaviour (it
runs, then exits with its exit-code annotation)."""

import hashlib
import posixpath
from dataclasses import dataclass, field

from . import shell

SHELLS = {"sh", "ash", "bash"}
KANIKO = "gcr.io/kaniko-project/executor"
SONAR_SCANNER = "sonarsource/sonar-scanner-cli"
TERMINATION_LOG = "/dev/termination-log"
MAX_OUTPUT = 256 * 1024  # a container's log the sandbox keeps (the kubelet rotates at 10 MiB)


@dataclass
class Process:
    exit_code: int
    seconds: float  # simulated seconds the process itself waited (sleep)
    output: list[tuple[float, str]] = field(default_factory=list)  # (seconds into the run, line)
    message: str = ""  # what the container wrote to its terminationMessagePath


class BatchTerminal(shell.Terminal):
    """stdout and stderr of a process nobody is attached to: collected with the moment they were
    written; `sleep` advances the process's own (simulated) time instead of blocking."""

    def __init__(self):
        self.elapsed = 0.0
        self.lines: list[tuple[float, str]] = []
        self.partial = ""
        self.size = 0
        super().__init__(self.collect, self.collect, tty=False)
        self.end_input()

    def collect(self, data: bytes) -> None:
        if self.size > MAX_OUTPUT:
            return
        self.size += len(data)
        text = self.partial + data.decode(errors="replace")
        *complete, self.partial = text.split("\n")
        self.lines.extend((self.elapsed, line) for line in complete)

    def sleep(self, seconds):
        self.elapsed += min(max(0.0, seconds), shell.MAX_SLEEP)

    def flushed(self) -> list[tuple[float, str]]:
        if self.partial:
            self.lines.append((self.elapsed, self.partial))
            self.partial = ""
        return self.lines


def argv_of(container: dict) -> list[str]:
    return [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]


def run(cluster, pod: dict, container: dict, attempt: int = 0) -> Process | None:
    """Run the container's main process to its end, or None when the sandbox has no model of it."""
    argv = argv_of(container)
    image = container.get("image", "")
    if image.split("@")[0].rsplit(":", 1)[0] == KANIKO or (argv and argv[0] == "/kaniko/executor"):
        return kaniko(argv[1:] if argv and argv[0] == "/kaniko/executor" else argv)
    if image.split("@")[0].rsplit(":", 1)[0] == SONAR_SCANNER and (not argv or argv[0].startswith("-")):
        from .remotecommand import Container

        box = Container(cluster, pod, container.get("name"), f"run://{pod['metadata']['uid']}/{attempt}")
        return sonar_scanner(argv, box.environment(), container.get("workingDir") or "/usr/src")
    if not argv or posixpath.basename(argv[0]) not in SHELLS:
        return None
    from .remotecommand import Container  # the container as exec sees it: environment and files

    box = Container(cluster, pod, container.get("name"), f"run://{pod['metadata']['uid']}/{attempt}")
    term = BatchTerminal()
    fs = box.filesystem(read_only_root=False)
    sh = shell.Shell(term, fs, box.environment(), box.hostname, 0, 0, [(1, "root", " ".join(argv))], pid=1)
    try:
        code = sh.run_command([posixpath.basename(argv[0]), *argv[1:]], term, term.out, term.err)
    except shell.Exit as exc:
        code = exc.code
    except shell.Hangup:
        code = 137
    message = fs.get(container.get("terminationMessagePath") or TERMINATION_LOG)
    return Process(int(code or 0), term.elapsed, term.flushed(), message if isinstance(message, str) else "")


def kaniko(args: list[str]) -> Process:
    """Kaniko's executor, as far as its log and outcome go: it needs --destination (or --no-push)
    and a --context; the digest is a function of what it was asked to build."""
    options: dict[str, list[str]] = {}
    for arg in args:
        name, _, value = arg.partition("=")
        options.setdefault(name.lstrip("-"), []).append(value)
    destinations = [d for d in options.get("destination", []) if d]
    context = (options.get("context") or options.get("c") or [""])[0]
    dockerfile = (options.get("dockerfile") or options.get("f") or ["Dockerfile"])[0]
    stamp = "INFO[{:04d}] {}"
    lines = []
    if not context:
        lines.append((0.0, 'Error: error resolving context: please specify a build context with "--context"'))
        return Process(1, 0.5, lines)
    if not destinations and "no-push" not in options:
        lines.append(
            (0.0, "Error: You must provide --destination, or use --no-push")
        )  # kaniko's own words (cmd/executor/cmd/root.go)
        return Process(1, 0.5, lines)
    digest = "sha256:" + hashlib.sha256("\n".join([context, dockerfile, *destinations]).encode()).hexdigest()
    steps = [
        f"Using dockerignore file: {posixpath.join('/kaniko/buildcontext', '.dockerignore')}",
        f"Retrieving image manifest from the Dockerfile's base (context {context})",
        "Built cross stage deps: map[]",
        "Executing 0 build triggers",
        f"Building stage from {dockerfile}",
        "Taking snapshot of full filesystem...",
        *[f"Pushing image to {d}" for d in destinations],
        *[f"Pushed {d.rsplit(':', 1)[0] if ':' in d.rsplit('/', 1)[-1] else d}@{digest}" for d in destinations],
    ]
    lines = [(i * 2.0, stamp.format(i * 2, text)) for i, text in enumerate(steps)]
    message = digest if TERMINATION_LOG in options.get("digest-file", []) else ""
    return Process(0, len(steps) * 2.0, lines, message)


def sonar_scanner(args: list[str], env: dict, workdir: str) -> Process:
    """SonarScanner CLI as its image runs it (entrypoint `sonar-scanner`, the arguments given):
    properties from -Dkey=value, SONAR_HOST_URL (else http://localhost:9000) and SONAR_TOKEN
    (else -Dsonar.token). Exit 2 for what the user must fix, as the scanner does."""
    props = {}
    for arg in args:
        if arg.startswith("-D"):
            key, _, value = arg[2:].partition("=")
            props[key] = value
    host = (props.get("sonar.host.url") or env.get("SONAR_HOST_URL") or "http://localhost:9000").rstrip("/")
    token = props.get("sonar.token") or env.get("SONAR_TOKEN") or props.get("sonar.login")
    base = props.get("sonar.projectBaseDir") or workdir
    lines = [
        "INFO  Scanner configuration file: /opt/sonar-scanner/conf/sonar-scanner.properties",
        "INFO  Project root configuration file: NONE",
        "INFO  SonarScanner CLI 7.1.0.4889",
        "INFO  Java 17.0.14 Eclipse Adoptium (64-bit)",
        "INFO  Linux 6.8.0 amd64",
    ]

    def failed(*errors):
        out = lines + [f"ERROR {e}" for e in errors] + ["INFO  EXECUTION FAILURE"]
        return Process(2, 3.0, [(i * 0.5, text) for i, text in enumerate(out)])

    if not token:
        return failed(
            "Not authorized. Analyzing this project requires authentication. Please check the user token "
            "in the property 'sonar.token' or the environment variable 'SONAR_TOKEN'."
        )
    key = props.get("sonar.projectKey", "")
    if not key:
        return failed("You must define the following mandatory properties for 'Unknown': sonar.projectKey")
    task = "AZ" + hashlib.sha256("\n".join([host, key, *args]).encode()).hexdigest()[:18]
    lines += [
        f"INFO  Communicating with SonarQube Server at {host}",
        "INFO  Load global settings",
        f"INFO  Project key: {key}",
        f"INFO  Base dir: {base}",
        f"INFO  Working dir: {posixpath.join(base, '.scannerwork')}",
        "INFO  Sensor JavaScript/TypeScript analysis [javascript]",
        "INFO  Analysis report generated in 112ms, dir size=1.2 MB",
        "INFO  Analysis report uploaded in 64ms",
        f"INFO  ANALYSIS SUCCESSFUL, you can find the results at: {host}/dashboard?id={key}",
        "INFO  Note that you will be able to access the updated dashboard once the server has processed "
        "the submitted analysis report",
        f"INFO  More about the report processing at {host}/api/ce/task?id={task}",
        "INFO  EXECUTION SUCCESS",
    ]
    return Process(0, 20.0, [(i * 1.5, text) for i, text in enumerate(lines)])
