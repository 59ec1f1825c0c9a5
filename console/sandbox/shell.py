"""A small simulated shell for the processes pods/exec and pods/attach start in a sandbox
container: BusyBox-like commands (echo, env, ls, cat, ps, ...) over a fake filesystem,
`;` `&&` `||` `|`, variables, simple redirections and exit codes, with the error messages
BusyBox's ash prints. It knows nothing of Kubernetes: remotecommand.py builds the container
it runs in (environment, files, processes) from the pod."""

import posixpath
import queue
import re
import threading
import time

DIR = object()  # a directory in Filesystem.nodes
INTERRUPTED = 130  # what a shell reports for a command stopped by ^C (128 + SIGINT)
NOT_FOUND = 127
MAX_LINE = 64 * 1024  # a typed line longer than this is cut off (a terminal's line buffer is finite too)
MAX_SLEEP = 3600


class Exit(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Interrupted(Exception):
    """^C on the terminal."""


class Hangup(Exception):
    """The client went away: nobody reads or writes any more."""


class NotExecutable(Exception):
    """What the container runtime answers for a program the image lacks."""


# --- the terminal ------------------------------------------------------------------------


class Terminal:
    """The exec'd process's stdin, stdout and stderr as the client sees them. With a TTY, a line
    discipline like a real terminal's: typed characters are echoed, Backspace and ^U erase, Enter
    ends a line, ^C interrupts, ^D on an empty line ends input, and newlines go out as CR LF
    (stderr goes to the terminal too)."""

    def __init__(self, write_out, write_err, tty=False):
        self.write_out, self.write_err, self.tty = write_out, write_err, tty
        self.inbox = queue.Queue()  # chunks of stdin from the client; None: no more
        self.pending = bytearray()
        self.eof = False
        self.hung_up = threading.Event()
        self.width, self.height = 80, 24

    # fed by the I/O thread
    def feed(self, data):
        self.inbox.put(bytes(data))

    def end_input(self):
        self.inbox.put(None)

    def hangup(self):
        self.hung_up.set()
        self.inbox.put(None)

    def resize(self, width, height):
        self.width, self.height = width, height

    # used by the shell's thread
    def out(self, text):
        self._write(self.write_out, text)

    def err(self, text):
        self._write(self.write_out if self.tty else self.write_err, text)

    def _write(self, write, text):
        if self.hung_up.is_set():
            raise Hangup()
        if text:
            if self.tty:
                text = re.sub(r"(?<!\r)\n", "\r\n", text)
            write(text.encode())

    def _more(self, timeout=None):
        """Move one chunk of stdin into pending; False when none came in time or input ended."""
        if self.eof:
            return False
        try:
            chunk = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return False
        if chunk is None:
            self.eof = True
            if self.hung_up.is_set():
                raise Hangup()
            return False
        self.pending += chunk
        return True

    def read_line(self):
        """A line without its end, or None at the end of input. Raises Interrupted on ^C (TTY)."""
        return self._cooked_line() if self.tty else self._raw_line()

    def _raw_line(self):
        while True:
            end = self.pending.find(b"\n")
            if end >= 0:
                line = bytes(self.pending[:end])
                del self.pending[: end + 1]
                return line.decode(errors="replace")
            if len(self.pending) > MAX_LINE or (not self._more() and self.eof):
                if not self.pending:
                    return None
                line = bytes(self.pending[:MAX_LINE])
                del self.pending[:MAX_LINE]
                return line.decode(errors="replace")

    def _cooked_line(self):
        line, echo = bytearray(), bytearray()  # echo goes out once per chunk typed, not per key
        try:
            while True:
                while not self.pending:
                    self._echo(echo)
                    if not self._more() and self.eof:
                        return None
                byte = self.pending.pop(0)
                if byte in (0x0D, 0x0A):
                    echo += b"\r\n"
                    return line.decode(errors="replace")
                if byte in (0x7F, 0x08):
                    if line:
                        # erase one character: a UTF-8 character may be several bytes
                        while line and line[-1] & 0xC0 == 0x80:
                            line.pop()
                        line.pop()
                        echo += b"\b \b"
                elif byte == 0x03:
                    echo += b"^C\r\n"
                    raise Interrupted()
                elif byte == 0x04:
                    if not line:
                        return None
                elif byte == 0x15:
                    echo += b"\b \b" * len(line.decode(errors="replace"))
                    line.clear()
                elif byte == 0x1B:
                    self._skip_escape()
                elif (byte >= 0x20 or byte == 0x09) and len(line) < MAX_LINE:
                    line.append(byte)
                    echo.append(byte)
        finally:
            self._echo(echo)

    def _echo(self, echo):
        if echo and not self.hung_up.is_set():
            self.write_out(bytes(echo))
        echo.clear()

    def _skip_escape(self):
        """Arrow keys and the like (ESC [ ... final byte): this shell has no line editing."""
        deadline = time.monotonic() + 0.05
        while not self.pending and time.monotonic() < deadline and self._more(timeout=0.05):
            pass
        if self.pending[:1] in (b"[", b"O"):
            del self.pending[:1]
            while True:
                if not self.pending and not self._more(timeout=0.05):
                    return
                byte = self.pending.pop(0)
                if 0x40 <= byte <= 0x7E:
                    return

    def read_all(self):
        """Everything up to the end of input (^D on a terminal), for `grep pattern` and the like."""
        if self.tty:
            lines = []
            while (line := self.read_line()) is not None:
                lines.append(line + "\n")
            return "".join(lines)
        while self._more():
            pass
        data, self.pending = bytes(self.pending), bytearray()
        return data.decode(errors="replace")

    def copy_to(self, write):
        """`cat` with no file: copy stdin to stdout as it comes, until the end of input."""
        if self.tty:
            while (line := self.read_line()) is not None:
                write(line + "\n")
            return
        while True:
            if self.pending:
                data, self.pending = bytes(self.pending), bytearray()
                write(data.decode(errors="replace"))
            if not self._more():
                return

    def sleep(self, seconds):
        deadline = time.monotonic() + min(seconds, MAX_SLEEP)
        while (left := deadline - time.monotonic()) > 0:
            if self.hung_up.is_set():
                raise Hangup()
            if self.tty and not self.eof:
                self._more(timeout=min(left, 0.1))
                if 0x03 in self.pending:  # ^C while sleeping; what was typed before it stays typed
                    del self.pending[self.pending.index(0x03) :]
                    self.out("^C\n")
                    raise Interrupted()
            else:
                self.hung_up.wait(min(left, 0.1))


class TextInput:
    """The stdin of a command in a pipe or with `<`: the text before it."""

    tty = False

    def __init__(self, text):
        self.text = text

    def read_line(self):
        if not self.text:
            return None
        line, _, self.text = self.text.partition("\n")
        return line

    def read_all(self):
        text, self.text = self.text, ""
        return text

    def copy_to(self, write):
        write(self.read_all())


# --- the filesystem ----------------------------------------------------------------------


class Filesystem:
    """Paths to file contents (str) or DIR. Read-only places: mounted ConfigMaps and Secrets,
    /proc and /sys, and the root filesystem when the container asks for that."""

    def __init__(self):
        self.nodes = {"/": DIR}
        self.read_only = set()  # directories under which nothing may be written
        self.writable = set()  # directories that stay writable in a read-only root (volumes)
        self.root_read_only = False

    def add_dir(self, path):
        path = posixpath.normpath(path)
        while path not in self.nodes:
            self.nodes[path] = DIR
            path = posixpath.dirname(path)

    def add_file(self, path, content):
        self.add_dir(posixpath.dirname(path))
        self.nodes[path] = content

    def mount(self, path, files, read_only=True):
        """A volume at path: its old content goes, `files` ({name: content}) come."""
        path = posixpath.normpath(path)
        for existing in [p for p in self.nodes if p.startswith(path + "/")]:
            del self.nodes[existing]
        self.add_dir(path)
        for name, content in files.items():
            self.add_file(posixpath.join(path, name), content)
        (self.read_only if read_only else self.writable).add(path)

    def get(self, path):
        return self.nodes.get(path)

    def is_dir(self, path):
        return self.nodes.get(path) is DIR

    def children(self, path):
        prefix = path.rstrip("/") + "/"
        return sorted(
            p[len(prefix) :] for p in self.nodes if p.startswith(prefix) and "/" not in p[len(prefix) :] and p != "/"
        )

    def writable_at(self, path):
        def under(places):
            return any(path == place or path.startswith(place.rstrip("/") + "/") for place in places)

        if under(self.read_only):
            return False
        return under(self.writable) or not self.root_read_only


# --- the shell ---------------------------------------------------------------------------

OPERATORS = ("&&", "||", ";", "|", "2>&1", "1>&2", ">&2", ">>", "2>", ">", "<")
FD_OPERATORS = ("2>&1", "1>&2", "2>")  # only at the start of a word: `a2>x` is a2 written to x
SPECIAL = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<name>[A-Za-z_][A-Za-z0-9_]*|[?$#0]))")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


class Word(list):
    """A shell word as (text, quoting) pieces, expanded only when its command runs."""

    def add(self, text, quote):
        if self and self[-1][1] == quote:
            self[-1] = (self[-1][0] + text, quote)
        else:
            self.append((text, quote))

    def raw(self):
        return "".join(text for text, _ in self)


def tokenize(line):
    """Words and operators of a command line; raises SyntaxError for an unterminated quote."""
    tokens, word, i = [], None, 0
    while i < len(line):
        ch = line[i]
        if ch in " \t\n":
            if word is not None:
                tokens.append(word)
                word = None
            i += 1
            continue
        if ch == "#" and word is None:
            break
        operator = next((op for op in OPERATORS if line.startswith(op, i)), None)
        if operator and (word is None or operator not in FD_OPERATORS):
            if word is not None:
                tokens.append(word)
                word = None
            tokens.append(operator)
            i += len(operator)
            continue
        word = word if word is not None else Word()
        if ch == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise SyntaxError("unterminated quoted string")
            word.add(line[i + 1 : end], "'")
            i = end + 1
        elif ch == '"':
            text, i = "", i + 1
            while i < len(line) and line[i] != '"':
                if line[i] == "\\" and i + 1 < len(line) and line[i + 1] in '"\\$`':
                    i += 1
                text += line[i]
                i += 1
            if i >= len(line):
                raise SyntaxError("unterminated quoted string")
            word.add(text, '"')
            i += 1
        elif ch == "\\" and i + 1 < len(line):
            word.add(line[i + 1], "\\")
            i += 2
        else:
            word.add(ch, "")
            i += 1
    if word is not None:
        tokens.append(word)
    return tokens


class Shell:
    """One shell process: its variables, working directory and last exit status. Commands
    write through `term` (or into a pipe) and read from it."""

    def __init__(self, term, fs, env, hostname="localhost", uid=0, gid=0, processes=(), pid=7, workdir="/"):
        self.term, self.fs = term, fs
        self.vars = dict(env)
        self.hostname, self.uid, self.gid = hostname, uid, gid
        self.processes = list(processes)  # (pid, user, command) of the container's other processes
        self.pid = pid
        self.cwd = workdir if fs.is_dir(workdir) else "/"
        self.status = 0

    # --- how kubectl exec runs things

    def exec_argv(self, argv):
        """The program `kubectl exec pod -- argv...` starts (no shell in between)."""
        name = argv[0]
        if posixpath.basename(name) not in COMMANDS or ("/" in name and self.fs.get(self.path(name)) is None):
            raise NotExecutable(f'exec: "{name}": executable file not found in $PATH')
        return self.run_command([posixpath.basename(name)] + list(argv[1:]), self.term, self.term.out, self.term.err)

    def run_script(self, text):
        for line in text.split("\n"):
            self.run_line(line)
        return self.status

    def interactive(self):
        """Read and run lines until `exit` or the end of input; a prompt when on a terminal."""
        while True:
            if self.term.tty:
                self.term.out(f"{self.cwd} {'#' if self.uid == 0 else '$'} ")
            try:
                line = self.term.read_line()
            except Interrupted:
                self.status = INTERRUPTED
                continue
            if line is None:
                if self.term.tty:
                    self.term.out("exit\n")
                return self.status
            self.run_line(line)

    def run_line(self, line):
        try:
            tokens = tokenize(line)
        except SyntaxError as exc:
            self.term.err(f"sh: syntax error: {exc}\n")
            self.status = 2
            return
        pipeline, connector = [], ";"
        for token in tokens + [";"]:
            if token in ("&&", "||", ";"):
                if not pipeline:
                    if token != ";" or connector != ";":
                        self.term.err(f'sh: syntax error: unexpected "{token}"\n')
                        self.status = 2
                        return
                    continue
                if connector == ";" or (connector == "&&") == (self.status == 0):
                    self.status = self.run_pipeline(pipeline)
                pipeline, connector = [], token
            else:
                pipeline.append(token)

    def run_pipeline(self, tokens):
        commands, current = [], []
        for token in tokens + ["|"]:
            if token == "|":
                if not current:
                    self.term.err('sh: syntax error: unexpected "|"\n')
                    return 2
                commands.append(current)
                current = []
            else:
                current.append(token)
        stdin, status = self.term, 0
        for n, command in enumerate(commands):
            last = n == len(commands) - 1
            captured = []
            out = self.term.out if last else captured.append
            try:
                status = self.run_simple(command, stdin, out)
            except Interrupted:
                return INTERRUPTED
            stdin = TextInput("".join(captured))
        return status

    def run_simple(self, tokens, stdin, out):
        """One command with its assignments and redirections (applied in order, as sh does)."""
        err, words, assignments, writes = self.term.err, [], {}, []
        tokens = list(tokens)
        while tokens:
            token = tokens.pop(0)
            if token == "2>&1":
                err = out
            elif token in ("1>&2", ">&2"):
                out = err
            elif token in (">", ">>", "2>", "<"):
                if not tokens or isinstance(tokens[0], str):
                    self.term.err("sh: syntax error: unexpected newline\n")
                    return 2
                target = self.expand_text(tokens.pop(0))
                path = self.path(target)
                if token == "<":
                    if not isinstance(self.fs.get(path), str):
                        self.term.err(f"sh: can't open '{target}': No such file or directory\n")
                        return 1
                    stdin = TextInput(self.fs.get(path))
                    continue
                if path != "/dev/null" and not self._can_write(path, f"sh: can't create {target}"):
                    return 1
                buffer = [self.fs.get(path)] if token == ">>" and isinstance(self.fs.get(path), str) else []
                writes.append((path, buffer))
                if token == "2>":
                    err = buffer.append
                else:
                    out = buffer.append
            elif not words and ASSIGNMENT.match(token.raw()):
                name = token.raw().partition("=")[0]
                assignments[name] = self.expand_text(token)[len(name) + 1 :]
            else:
                words += self.expand(token)
        if not words:
            self.vars.update(assignments)
            status = 0
        else:
            saved = self.vars
            if assignments:  # NAME=value before a command: for that command only
                self.vars = {**saved, **assignments}
            try:
                status = self.run_command(words, stdin, out, err)
            finally:
                if assignments:
                    self.vars = saved
        for path, buffer in writes:
            if path != "/dev/null":
                self.fs.add_file(path, "".join(buffer))
        return status

    def run_command(self, words, stdin, out, err):
        name, args = words[0], words[1:]
        run = COMMANDS.get(
            posixpath.basename(name) if "/" in name and self.fs.get(self.path(name)) is not None else name
        )
        if run is None:
            err(f"sh: {name}: not found\n")
            return NOT_FOUND
        try:
            return run(self, args, stdin, out, err) or 0
        except Exit:
            raise
        except Interrupted:
            return INTERRUPTED

    def expand(self, word):
        """The fields a word stands for: variables substituted (not in single quotes); an
        unquoted expansion is split on blanks, and gone when empty."""
        text = self.expand_text(word)
        if any(quote for _, quote in word):
            return [text]
        return text.split() if text != word.raw() else [text]

    def expand_text(self, word):
        return "".join(
            piece if quote in ("'", "\\") else SPECIAL.sub(lambda m: self.variable(m["braced"] or m["name"]), piece)
            for piece, quote in word
        )

    def variable(self, name):
        if name == "?":
            return str(self.status)
        if name == "$":
            return str(self.pid)
        if name == "#":
            return "0"
        if name == "0":
            return "sh"
        return self.vars.get(name, "")

    def path(self, name):
        name = name or "."
        if name == "~" or name.startswith("~/"):
            name = self.vars.get("HOME", "/") + name[1:]
        return posixpath.normpath(posixpath.join(self.cwd, name)).replace("//", "/")

    def _can_write(self, path, what):
        if self.fs.is_dir(path):
            self.term.err(f"{what}: Is a directory\n")
            return False
        if not self.fs.is_dir(posixpath.dirname(path)):
            self.term.err(f"{what}: nonexistent directory\n")
            return False
        if not self.fs.writable_at(path):
            self.term.err(f"{what}: Read-only file system\n")
            return False
        if (
            self.uid != 0
            and not path.startswith("/tmp/")
            and not any(path.startswith(p + "/") for p in self.fs.writable)
        ):
            self.term.err(f"{what}: Permission denied\n")
            return False
        return True


# --- commands (BusyBox's wording) -----------------------------------------------------------


def cmd_echo(shell, args, stdin, out, err):
    newline = True
    while args and args[0] in ("-n", "-e", "-ne", "-en"):
        newline = newline and "n" not in args[0]
        args = args[1:]
    out(" ".join(args) + ("\n" if newline else ""))


# One pass over the format: %% first, then a conversion with its flags and width, or an escape,
# so that '%%s' prints "%s" and '\\n' prints a backslash and an n, as printf(1) does.
PRINTF_TOKEN = re.compile(r"%%|%([-+ 0#]*\d*(?:\.\d+)?)([sdicxXo])|\\(.)", re.S)
PRINTF_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\\": "\\"}


def cmd_printf(shell, args, stdin, out, err):
    if not args:
        err("printf: usage: printf FORMAT [ARG]...\n")
        return 1
    fmt, values = args[0], list(args[1:])
    conversions = sum(1 for match in PRINTF_TOKEN.finditer(fmt) if match.group(2))
    status = 0

    def convert(match, chunk):
        nonlocal status
        if match.group(0) == "%%":
            return "%"
        if match.group(3) is not None:
            return PRINTF_ESCAPES.get(match.group(3), "\\" + match.group(3))
        flags, kind = match.group(1), match.group(2)
        value = chunk.pop(0) if chunk else ""
        if kind in "sc":
            return f"%{flags}s" % (value[:1] if kind == "c" else value)
        try:
            number = int(value or "0")
        except ValueError:
            err(f"printf: invalid number '{value}'\n")
            status, number = 1, 0
        return f"%{flags}{'d' if kind == 'i' else kind}" % number

    while True:  # the format is used again while arguments remain, as printf(1) does
        chunk, values = values[:conversions], values[conversions:]
        out(PRINTF_TOKEN.sub(lambda match, chunk=chunk: convert(match, chunk), fmt))
        if not values or not conversions:
            return status


def cmd_env(shell, args, stdin, out, err):
    extra = {}
    while args and "=" in args[0]:
        name, _, value = args[0].partition("=")
        extra[name] = value
        args = args[1:]
    if args:
        saved = shell.vars
        shell.vars = {**saved, **extra}
        try:
            status = shell.run_command(args, stdin, out, err)
        finally:
            shell.vars = saved
        return NOT_FOUND if status == NOT_FOUND else status
    out("".join(f"{name}={value}\n" for name, value in {**shell.vars, **extra}.items()))


def cmd_printenv(shell, args, stdin, out, err):
    if not args:
        return cmd_env(shell, [], stdin, out, err)
    missing = 0
    for name in args:
        if name in shell.vars:
            out(shell.vars[name] + "\n")
        else:
            missing = 1
    return missing


def cmd_export(shell, args, stdin, out, err):
    if not args or args == ["-p"]:
        out("".join(f"export {name}='{value}'\n" for name, value in shell.vars.items()))
    for arg in args:
        if "=" in arg:  # every variable of this shell is exported already
            name, _, value = arg.partition("=")
            shell.vars[name] = value


def cmd_unset(shell, args, stdin, out, err):
    for name in args:
        shell.vars.pop(name, None)


def cmd_pwd(shell, args, stdin, out, err):
    out(shell.cwd + "\n")


def cmd_cd(shell, args, stdin, out, err):
    target = args[0] if args else shell.vars.get("HOME", "/")
    path = shell.path(target)
    if not shell.fs.is_dir(path):
        reason = "Not a directory" if shell.fs.get(path) is not None else "No such file or directory"
        err(f"sh: cd: can't cd to {target}: {reason}\n")
        return 2
    shell.cwd = path


def cmd_ls(shell, args, stdin, out, err):
    flags = "".join(a[1:] for a in args if a.startswith("-") and len(a) > 1)
    names = [a for a in args if not a.startswith("-") or a == "-"] or ["."]
    status, blocks = 0, []
    for name in names:
        path = shell.path(name)
        node = shell.fs.get(path)
        if node is None:
            err(f"ls: {name}: No such file or directory\n")
            status = 1
            continue
        if node is DIR:
            entries = shell.fs.children(path)
            if "a" in flags:
                entries = [".", ".."] + entries
            else:
                entries = [e for e in entries if not e.startswith(".")]
            blocks.append((name, [(e, posixpath.normpath(posixpath.join(path, e))) for e in entries]))
        else:
            blocks.append((None, [(name, path)]))
    for n, (title, entries) in enumerate(blocks):
        if len(blocks) > 1 and title is not None:
            out(("\n" if n else "") + f"{title}:\n")
        if "l" in flags:
            out("".join(long_entry(shell.fs, name, path) for name, path in entries))
        elif entries:
            one_per_line = "1" in flags or not shell.term.tty
            out(("\n" if one_per_line else "  ").join(name for name, _ in entries) + "\n")
    return status


def long_entry(fs, name, path):
    node = fs.get(path)
    if node is DIR or name in (".", ".."):
        return f"drwxr-xr-x    2 root     root          4096 Jan  1 00:00 {name}\n"
    mode = "-r--r--r--" if not fs.writable_at(path) else "-rw-r--r--"
    return f"{mode}    1 root     root     {len(node.encode()):>9} Jan  1 00:00 {name}\n"


def cmd_cat(shell, args, stdin, out, err):
    status = 0
    for name in args or ["-"]:
        if name == "-":
            stdin.copy_to(out)
            continue
        node = shell.fs.get(shell.path(name))
        if node is None:
            err(f"cat: can't open '{name}': No such file or directory\n")
            status = 1
        elif node is DIR:
            err("cat: read error: Is a directory\n")
            status = 1
        else:
            out(node)
    return status


def cmd_grep(shell, args, stdin, out, err):
    flags = "".join(a[1:] for a in args if a.startswith("-") and len(a) > 1)
    rest = [a for a in args if not (a.startswith("-") and len(a) > 1)]
    if not rest:
        err("Usage: grep [-iv] PATTERN [FILE]...\n")
        return 2
    pattern, names = rest[0], rest[1:]
    try:
        regex = re.compile(pattern, re.I if "i" in flags else 0)
    except re.error:
        regex = re.compile(re.escape(pattern), re.I if "i" in flags else 0)
    sources = []
    for name in names or ["-"]:
        if name == "-":
            sources.append(stdin.read_all())
            continue
        node = shell.fs.get(shell.path(name))
        if not isinstance(node, str):
            err(f"grep: {name}: {'Is a directory' if node is DIR else 'No such file or directory'}\n")
            continue
        sources.append(node)
    found = [line for text in sources for line in text.splitlines() if bool(regex.search(line)) != ("v" in flags)]
    out("".join(line + "\n" for line in found))
    return 0 if found else 1


def cmd_head(shell, args, stdin, out, err, tail=False):
    count, names = 10, []
    for n, arg in enumerate(args):
        if arg == "-n" and n + 1 < len(args) and args[n + 1].isdigit():
            count = int(args[n + 1])
        elif arg.startswith("-") and arg[1:].isdigit():
            count = int(arg[1:])
        elif n == 0 or args[n - 1] != "-n":
            names.append(arg)
    text = (
        stdin.read_all()
        if not names
        else "".join(
            shell.fs.get(shell.path(name)) if isinstance(shell.fs.get(shell.path(name)), str) else "" for name in names
        )
    )
    lines = text.splitlines(keepends=True)
    out("".join(lines[-count:] if tail and count else [] if tail else lines[:count]))


def cmd_wc(shell, args, stdin, out, err):
    text = stdin.read_all()
    if "-l" in args:
        out(f"{text.count(chr(10))}\n")
    else:
        out(f"{text.count(chr(10)):>9} {len(text.split()):>9} {len(text.encode()):>9}\n")


def cmd_ps(shell, args, stdin, out, err):
    user = "root" if shell.uid == 0 else str(shell.uid)
    rows = list(shell.processes) + [
        (shell.pid, user, "sh"),
        (shell.pid + 6, user, "ps " + " ".join(args) if args else "ps"),
    ]
    out(
        "PID   USER     TIME  COMMAND\n"
        + "".join(f"{pid:>5} {owner:<8}  0:00 {command}\n" for pid, owner, command in rows)
    )


def cmd_hostname(shell, args, stdin, out, err):
    out(shell.hostname + "\n")


def cmd_whoami(shell, args, stdin, out, err):
    if shell.uid != 0:
        err(f"whoami: unknown uid {shell.uid}\n")
        return 1
    out("root\n")


def cmd_id(shell, args, stdin, out, err):
    def named(number):
        return f"{number}(root)" if number == 0 else str(number)

    out(f"uid={named(shell.uid)} gid={named(shell.gid)} groups={named(shell.gid)}\n")


def cmd_uname(shell, args, stdin, out, err):
    parts = {"s": "Linux", "n": shell.hostname, "r": "6.1.0-sandbox", "v": "#1 SMP PREEMPT_DYNAMIC", "m": "x86_64"}
    flags = "".join(a[1:] for a in args if a.startswith("-")) or "s"
    everything = "a" in flags
    out(" ".join(parts[f] for f in "snrvm" if f in flags or everything) + (" GNU/Linux" if everything else "") + "\n")


def cmd_date(shell, args, stdin, out, err):
    out(time.strftime("%a %b %e %H:%M:%S UTC %Y", time.gmtime()) + "\n")


def cmd_sleep(shell, args, stdin, out, err):
    try:
        seconds = float(args[0].rstrip("s")) if args else None
    except ValueError:
        seconds = None
    if seconds is None or seconds < 0:
        err(f"sleep: invalid number '{args[0] if args else ''}'\n")
        return 1
    shell.term.sleep(seconds)


def cmd_true(shell, args, stdin, out, err):
    return 0


def cmd_false(shell, args, stdin, out, err):
    return 1


def cmd_exit(shell, args, stdin, out, err):
    if args and not args[0].lstrip("-").isdigit():
        err(f"sh: exit: Illegal number: {args[0]}\n")
        raise Exit(2)
    raise Exit(int(args[0]) % 256 if args else shell.status)


def cmd_sh(shell, args, stdin, out, err):
    """A shell inside the shell: `sh -c 'script'`, `sh file`, a script on stdin, or (on the
    terminal) an interactive one."""
    child = Shell(
        shell.term,
        shell.fs,
        shell.vars,
        shell.hostname,
        shell.uid,
        shell.gid,
        shell.processes,
        shell.pid + 1,
        shell.cwd,
    )
    try:
        if args and args[0] == "-c":
            if len(args) < 2:
                err("sh: -c requires an argument\n")
                return 2
            return child.run_script(args[1])
        if args:
            script = shell.fs.get(shell.path(args[0]))
            if not isinstance(script, str):
                err(f"sh: can't open '{args[0]}': No such file or directory\n")
                return 2
            return child.run_script(script)
        if stdin is not shell.term:
            return child.run_script(stdin.read_all())
        return child.interactive()
    except Exit as exc:
        return exc.code


def cmd_which(shell, args, stdin, out, err):
    status = 0
    for name in args:
        if name in COMMANDS:
            out(f"/bin/{name}\n")
        else:
            status = 1
    return status


def cmd_touch(shell, args, stdin, out, err):
    status = 0
    for name in args:
        path = shell.path(name)
        if shell.fs.get(path) is None:
            if shell._can_write(path, f"touch: {name}"):
                shell.fs.add_file(path, "")
            else:
                status = 1
    return status


def cmd_mkdir(shell, args, stdin, out, err):
    status, parents = 0, "-p" in args
    for name in (a for a in args if a != "-p"):
        path = shell.path(name)
        if shell.fs.get(path) is not None:
            if not parents:
                err(f"mkdir: can't create directory '{name}': File exists\n")
                status = 1
        elif not parents and not shell.fs.is_dir(posixpath.dirname(path)):
            err(f"mkdir: can't create directory '{name}': No such file or directory\n")
            status = 1
        elif shell.fs.writable_at(path) and (shell.uid == 0 or path.startswith("/tmp/")):
            shell.fs.add_dir(path)
        else:
            reason = "Read-only file system" if not shell.fs.writable_at(path) else "Permission denied"
            err(f"mkdir: can't create directory '{name}': {reason}\n")
            status = 1
    return status


def cmd_rm(shell, args, stdin, out, err):
    status, recursive = 0, any(a.startswith("-") and "r" in a for a in args)
    for name in (a for a in args if not a.startswith("-")):
        path = shell.path(name)
        node = shell.fs.get(path)
        if node is None:
            if not any(a.startswith("-") and "f" in a for a in args):
                err(f"rm: can't remove '{name}': No such file or directory\n")
                status = 1
        elif node is DIR and not recursive:
            err(f"rm: '{name}' is a directory\n")
            status = 1
        elif not shell.fs.writable_at(path) or path == "/":
            err(f"rm: can't remove '{name}': Read-only file system\n")
            status = 1
        else:
            for existing in [p for p in shell.fs.nodes if p == path or p.startswith(path + "/")]:
                del shell.fs.nodes[existing]
    return status


def cmd_stty(shell, args, stdin, out, err):
    if args[:1] == ["size"]:
        if not shell.term.tty:
            err("stty: standard input: Not a tty\n")
            return 1
        out(f"{shell.term.height} {shell.term.width}\n")


def cmd_clear(shell, args, stdin, out, err):
    out("\x1b[H\x1b[J")


COMMANDS = {
    "echo": cmd_echo,
    "printf": cmd_printf,
    "env": cmd_env,
    "printenv": cmd_printenv,
    "export": cmd_export,
    "unset": cmd_unset,
    "pwd": cmd_pwd,
    "cd": cmd_cd,
    "ls": cmd_ls,
    "cat": cmd_cat,
    "grep": cmd_grep,
    "head": cmd_head,
    "tail": lambda shell, args, stdin, out, err: cmd_head(shell, args, stdin, out, err, tail=True),
    "wc": cmd_wc,
    "ps": cmd_ps,
    "hostname": cmd_hostname,
    "whoami": cmd_whoami,
    "id": cmd_id,
    "uname": cmd_uname,
    "date": cmd_date,
    "sleep": cmd_sleep,
    "true": cmd_true,
    "false": cmd_false,
    "exit": cmd_exit,
    "sh": cmd_sh,
    "ash": cmd_sh,
    "bash": cmd_sh,
    "which": cmd_which,
    "touch": cmd_touch,
    "mkdir": cmd_mkdir,
    "rm": cmd_rm,
    "stty": cmd_stty,
    "clear": cmd_clear,
}
