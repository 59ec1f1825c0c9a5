"""The one loader for documents that users send: kubeconfigs, imported manifests,
templates, webhook bodies, websocket messages.

Limits come before anything else is done with the text: its size, then (while it is
parsed) its depth, its number of nodes and documents. YAML anchors and aliases are
refused outright: an alias makes the same node appear many times over, so a few hundred
bytes can stand for gigabytes once the data is copied, dumped or walked (the "billion
laughs"), and no Kubernetes object needs them. Everything refused is a `DocumentError`
(a ValueError) whose message tells the user what to change, with a line where known.
"""

import json
import re

import yaml
from django.utils.translation import gettext as _

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64  # a Deployment nests about 15 levels; the parser recurses once per level
MAX_NODES = 50_000  # fifty large objects hold a few thousand; parsing is the cost, so stop early
MAX_DOCUMENTS = 100


class DocumentError(ValueError):
    def __init__(self, message, line=None):
        self.message, self.line = message, line
        where = _(" (line %(line)s)") % {"line": line} if line else ""
        super().__init__(f"{message}{where}")


def check_size(text, max_bytes):
    # surrogatepass: a str with lone surrogates is still measured (the parser then refuses it)
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else len(text)
    if size > max_bytes:
        raise DocumentError(_("The document is larger than %(kb)s KB.") % {"kb": max_bytes // 1024})


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that counts while it composes: the composer is the only recursive part
    of PyYAML, so depth is checked before Python's own recursion limit is reached."""

    max_depth = MAX_DEPTH
    max_nodes = MAX_NODES

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise DocumentError(
                _("YAML anchors and aliases (& and *) are not accepted; write the values out."),
                event.start_mark.line + 1,
            )
        self._nodes += 1
        if self._nodes > self.max_nodes:
            raise DocumentError(
                _("The document has more than %(n)s values.") % {"n": self.max_nodes}, event.start_mark.line + 1
            )
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise DocumentError(
                    _("The document is nested more than %(n)s levels deep.") % {"n": self.max_depth},
                    event.start_mark.line + 1,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _yaml_error(exc):
    mark = getattr(exc, "problem_mark", None)
    where = (
        _(" at line %(line)s, column %(column)s") % {"line": mark.line + 1, "column": mark.column + 1} if mark else ""
    )
    problem = getattr(exc, "problem", None) or exc
    return DocumentError(_("This is not valid YAML%(where)s: %(problem)s") % {"where": where, "problem": problem})


def load_yaml_documents(text, *, max_bytes=MAX_BYTES, max_documents=MAX_DOCUMENTS):
    """Every non-empty document of a YAML stream, as plain Python data."""
    check_size(text, max_bytes)
    loader = None
    documents = []
    try:
        loader = _LimitedLoader(text)  # the reader decodes bytes and checks the characters here already
        while loader.check_data():
            if len(documents) >= max_documents:
                raise DocumentError(_("At most %(n)s documents at once.") % {"n": max_documents})
            document = loader.get_data()
            if document is not None:
                documents.append(document)
    except DocumentError:
        raise
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # SafeLoader's constructors fail with plain exceptions on scalars that only look like
        # their type: the date 2001-13-01, an empty !!int, !!bool x, !!timestamp x.
        raise DocumentError(
            _("This is not valid YAML%(where)s: %(problem)s") % {"where": "", "problem": _constructor_problem(exc)}
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    return documents


def _constructor_problem(exc):
    # "month must be in 1..12" says what is wrong (it may quote the whole value: cut short);
    # a KeyError or an IndexError from inside PyYAML says nothing a user can act on.
    if type(exc) in (ValueError, OverflowError):
        return str(exc)[:200]
    return "a value does not match its type or tag"


def load_yaml(text, *, max_bytes=MAX_BYTES):
    """The one document of a YAML text (None when empty)."""
    documents = load_yaml_documents(text, max_bytes=max_bytes, max_documents=1)
    return documents[0] if documents else None


def load_json(text, *, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH):
    """JSON text as Python data. The depth is counted before parsing: the standard
    parser recurses per level and a deep enough text ends in RecursionError."""
    check_size(text, max_bytes)
    text = _utf8(text)
    too_deep = DocumentError(_("The document is nested more than %(n)s levels deep.") % {"n": max_depth})
    if json_depth(text) > max_depth:
        raise too_deep
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(_("This is not valid JSON: %(problem)s") % {"problem": exc.msg}, exc.lineno) from None
    except RecursionError:
        raise too_deep from None


def _utf8(text):
    if isinstance(text, bytes):
        try:
            return text.decode()
        except UnicodeDecodeError as exc:
            line = text.count(b"\n", 0, exc.start) + 1
            raise DocumentError(_("The document is not UTF-8 text."), line) from None
    return text


def iter_json_records(text, *, max_bytes=MAX_BYTES):
    """The records of a JSON array (its items, whatever they are: the reader checks them) or of
    JSON Lines (each line one object), one at a time as the parser reaches them. For high-rate
    machine input whose reader keeps none of the nested data and turns each record into its row
    before asking for the next (log batches): parsed whole, a batch's thousands of dicts lived
    long enough to set off full garbage collections of the web process's heap every few batches
    (bench/logs.py). So the depth is not scanned first: a value too deep for the parser itself is
    refused when it is reached. An error names the line where the parser stopped (JSON Lines: the
    line of the record)."""
    check_size(text, max_bytes)
    text = _utf8(text)
    blank = _BLANK.match
    position = blank(text).end()
    if text[position : position + 1] != "[":
        yield from _json_lines(text, position)
        return
    position = blank(text, position + 1).end()
    if text[position : position + 1] == "]":
        position = blank(text, position + 1).end()
    else:
        while True:
            item, position = _decode_at(text, position)
            yield item
            position = blank(text, position).end()
            separator = text[position : position + 1]
            if separator not in (",", "]"):
                raise _not_json(text, position, "Expecting ',' delimiter")
            position = blank(text, position + 1).end()
            if separator == "]":
                break
    if position != len(text):
        raise _not_json(text, position, "Extra data")


_DECODER = json.JSONDecoder()
_BLANK = re.compile(r"[ \t\n\r]*")  # JSON's whitespace
_LINE_END = re.compile(r"[ \t\r]*(?:\n|\Z)")


def _json_lines(text, position):
    blank, line_end = _BLANK.match, _LINE_END.match
    while position < len(text):
        item, end = _decode_at(text, position, record=True)
        if type(item) is not dict:
            raise DocumentError(_("This line is not a JSON object."), _line(text, position))
        after = line_end(text, end)
        if after is None:
            raise _not_json(text, position, "Extra data")
        yield item
        position = blank(text, after.end()).end()


def _decode_at(text, position, *, record=False):
    """The JSON value at `position` and where it ends. An error names the line where the
    parser stopped, or with `record` (JSON Lines) the line of the record."""
    try:
        return _DECODER.raw_decode(text, position)
    except json.JSONDecodeError as exc:
        raise _not_json(text, position if record else exc.pos, exc.msg) from None
    except RecursionError:
        raise DocumentError(_("The document is nested too deeply."), _line(text, position)) from None


def _line(text, position):
    """The line number of a position (only for errors: it counts from the start)."""
    return text.count("\n", 0, position) + 1


def _not_json(text, position, problem):
    return DocumentError(_("This is not valid JSON: %(problem)s") % {"problem": problem}, _line(text, position))


def json_depth(text):
    """The deepest nesting of [ and { outside strings."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")
