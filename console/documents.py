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
        self.line = line
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


def load_json(text, *, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH, scan_depth=True):
    """JSON text as Python data. The depth is counted before parsing: the standard
    parser recurses per level and a deep enough text ends in RecursionError.
    scan_depth=False (high-rate machine input, e.g. log batches): no scan first; the data is
    measured after parsing instead, and a text too deep for the parser is refused the same way.
    max_depth=None: no limit of ours, only the parser's own (a text too deep for it is refused);
    for readers that keep none of the nested data (log batches: the walk over every parsed
    record cost as much as the parse)."""
    check_size(text, max_bytes)
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError:
            raise DocumentError(_("The document is not UTF-8 text.")) from None
    if max_depth is None:
        too_deep = DocumentError(_("The document is nested too deeply."))
    else:
        too_deep = DocumentError(_("The document is nested more than %(n)s levels deep.") % {"n": max_depth})
    if scan_depth and max_depth is not None and json_depth(text) > max_depth:
        raise too_deep
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(_("This is not valid JSON: %(problem)s") % {"problem": exc.msg}, exc.lineno) from None
    except RecursionError:
        raise too_deep from None
    if not scan_depth and max_depth is not None and data_depth(data, max_depth) > max_depth:
        raise too_deep
    return data


def data_depth(data, limit):
    """How deep parsed JSON nests (counting stops past `limit`)."""
    deepest, level, todo = 0, 0, [(data, 1)]
    while todo:
        value, level = todo.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = value.values() if isinstance(value, dict) else value
            todo.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def json_depth(text):
    """The deepest nesting of [ and { outside strings."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")
