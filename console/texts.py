"""Stored sentences (job steps and errors, notifications): a gettext message id and its
parameters, translated when shown, so that each reader sees their own language.

Each sentence is defined once, at module level, with `message` (or `plural`); makemessages
finds them (console/management/commands/makemessages.py adds both as keywords):

    APPLIED = texts.message("Applied %(kind)s %(name)s")
    jobs.step(job, APPLIED(kind="Service", name="web"))

Calling a definition gives a `Text` to store; str(text) renders it in the active language.
Parameters are plain values (names, numbers, a cluster's own error text: shown as they are),
other Texts, or lazily translated labels (`gettext_lazy`: stored by their msgid, translated
when shown). Rows written before hold plain text: it is shown as it is.
"""

import json
import logging
import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.functional import Promise
from django.utils.text import capfirst as capitalise
from django.utils.translation import gettext, ngettext, override

log = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"%\((\w+)\)")


class Text:
    """A sentence as stored: msgid, parameters, and for a plural the plural msgid and the
    parameter that counts. str() renders it in the active language."""

    __slots__ = ("msgid", "params", "plural", "count", "capfirst")

    def __init__(
        self, msgid: str, params: dict | None = None, *, plural: str = "", count: str = "", capfirst: bool = False
    ):
        self.msgid, self.params, self.plural, self.count, self.capfirst = msgid, params or {}, plural, count, capfirst

    def __str__(self) -> str:
        return render(self)

    def __repr__(self) -> str:
        return f"<Text {self.msgid!r} {self.params!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and self.to_json() == other.to_json()

    __hash__ = None

    def to_json(self) -> dict:
        data: dict[str, Any] = {"msgid": self.msgid}
        if self.params:
            data["params"] = {name: _to_json(value) for name, value in self.params.items()}
        if self.plural:
            data["plural"], data["count"] = self.plural, self.count
        if self.capfirst:
            data["capfirst"] = True
        return data

    def render(self) -> str:
        params = {
            name: render(value) if isinstance(value, (Text, Joined)) else value for name, value in self.params.items()
        }
        try:
            text = self._format(params, translated=True)
        except (KeyError, ValueError, TypeError):  # a catalogue entry that does not fit: the original still does
            log.warning("the translation of %r does not fit its parameters %r", self.msgid, params)
            try:
                text = self._format(params, translated=False)
            except (KeyError, ValueError, TypeError):
                return self.msgid
        return capitalise(text) if self.capfirst else text

    def _format(self, params: dict, *, translated: bool) -> str:
        if self.plural:
            n = params[self.count]
            pattern = ngettext(self.msgid, self.plural, n) if translated else (self.msgid if n == 1 else self.plural)
        else:
            pattern = gettext(self.msgid) if translated else self.msgid
        return pattern % params if params else pattern


class Joined:
    """Sentences shown one after the other (a summary built of optional parts)."""

    __slots__ = ("parts",)

    def __init__(self, *parts: "Stored"):
        self.parts = parts

    def __str__(self) -> str:
        return render(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Joined) and self.to_json() == other.to_json()

    __hash__ = None

    def to_json(self) -> dict:
        return {"join": [_to_json(part) for part in self.parts]}

    def render(self) -> str:
        return "".join(render(part) for part in self.parts)


Stored = str | Text | Joined


def render(value: Any) -> str:
    """What a stored value reads in the active language: a Text translated, plain text as it is."""
    if isinstance(value, (Text, Joined)):
        return value.render()
    return "" if value is None else str(value)


def plain(value: Any) -> Any:
    """A copy of JSON-like data with every Text rendered (for places that keep text, like the
    operation log's before/after)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return render(value) if isinstance(value, (Text, Joined)) else value


# --- definitions --------------------------------------------------------------------------------

_registry: dict[str, "Message"] = {}


class Message:
    """A sentence defined once; calling it with its parameters gives the Text to store."""

    def __init__(self, msgid: str, plural: str = "", *, count: str = "", capfirst: bool = False):
        self.msgid, self.plural, self.count, self.capfirst = msgid, plural, count, capfirst
        self.names = frozenset(PLACEHOLDER.findall(msgid + plural)) | ({count} if count else set())
        _registry.setdefault(msgid, self)

    def __call__(self, **params: Any) -> Text:
        if set(params) != self.names:
            raise TypeError(f"{self.msgid!r} takes {sorted(self.names)}, not {sorted(params)}")
        return Text(
            self.msgid,
            {name: _param(name, value) for name, value in params.items()},
            plural=self.plural,
            count=self.count,
            capfirst=self.capfirst,
        )

    def __repr__(self) -> str:
        return f"<Message {self.msgid!r}>"


def message(msgid: str, *, capfirst: bool = False) -> Message:
    """Define a sentence. capfirst: it starts with a parameter that must read capitalised."""
    return Message(msgid, capfirst=capfirst)


def plural(singular: str, plural_form: str, count: str = "count") -> Message:
    """Define a sentence with a plural form, chosen by the parameter `count` when shown."""
    return Message(singular, plural_form, count=count)


def registered() -> list[Message]:
    """Every sentence defined so far (all of them, once the apps are loaded)."""
    return list(_registry.values())


def _param(name: str, value: Any) -> Any:
    if value is None:
        raise ValueError(f"parameter {name!r} is None: say what is meant instead")
    if isinstance(value, (Text, Joined, int, float)):
        return value
    if isinstance(value, Promise):  # a lazily translated label: kept as its msgid
        with override(None):
            return Text(str(value))
    return str(value)


def _to_json(value: Any) -> Any:
    return value.to_json() if isinstance(value, (Text, Joined)) else value


def _from_json(data: dict) -> Any:
    if "msgid" in data:
        return Text(
            data["msgid"],
            data.get("params"),
            plural=data.get("plural", ""),
            count=data.get("count", ""),
            capfirst=data.get("capfirst", False),
        )
    if "join" in data:
        return Joined(*data["join"])
    return data


# --- storage ------------------------------------------------------------------------------------


class TextEncoder(DjangoJSONEncoder):
    """JSON columns holding Texts (a job's steps)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, (Text, Joined)):
            return o.to_json()
        return super().default(o)


class TextDecoder(json.JSONDecoder):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, object_hook=_from_json, **kwargs)


def dumps(value: Text | Joined) -> str:
    return json.dumps(value, cls=TextEncoder, ensure_ascii=False)


def loads(value: str) -> Stored:
    """A text column's value: a stored Text, or plain text (rows from before, raw texts)."""
    if not value.startswith("{"):
        return value
    try:
        data = json.loads(value, cls=TextDecoder)
    except ValueError:
        return value
    return data if isinstance(data, (Text, Joined)) else value


class StoredTextField(models.TextField):
    """A text column that holds plain text or a stored Text (as JSON)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Stored | None:
        return loads(value) if value else value

    def to_python(self, value: Any) -> Any:
        return value if isinstance(value, (Text, Joined)) else super().to_python(value)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, (Text, Joined)):
            return dumps(value)
        return super().get_prep_value(value)
