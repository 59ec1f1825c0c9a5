"""The console speaks Chinese (the default) everywhere: every marked string is in the
catalogue, translated and compiled, and the main pages read in Chinese with nothing left
in English but names and Kubernetes terms."""

import ast
import gettext
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent.parent
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
SOURCES = ("console", "tenants", "workloads", "monitoring", "templates", "static")
NOT_TRANSLATED = ["console/sandbox", "static/vendor"]  # a simulated API server; vendored libraries


# --- the catalogue ---------------------------------------------------------------------


def read_po(path):
    """The entries of a .po file: [{msgctxt, msgid, msgid_plural, msgstr: {index: text}, fuzzy, line}],
    without the header and obsolete entries."""
    entries, entry, field = [], None, None

    def close():
        if entry is not None and entry.get("msgid"):
            entries.append(entry)

    def new_entry(line):
        return {"msgctxt": None, "msgid": "", "msgid_plural": None, "msgstr": {}, "fuzzy": False, "line": line}

    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if entry is not None and field is not None:  # a comment after a message starts the next one
                close()
                entry, field = None, None
            if entry is None:
                entry = new_entry(number)
            if line.startswith("#,") and "fuzzy" in line:
                entry["fuzzy"] = True
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            text = ast.literal_eval(line)
        else:
            if keyword in ("msgctxt", "msgid") and (entry is None or field not in (None, "msgctxt")):
                close()
                entry = new_entry(number)
            elif entry is None:
                entry = new_entry(number)
            field, text = keyword, ast.literal_eval(rest)
        if field in ("msgctxt", "msgid", "msgid_plural"):
            entry[field] = (entry[field] or "") + text
        elif field == "msgstr":
            entry["msgstr"][0] = entry["msgstr"].get(0, "") + text
        elif field and field.startswith("msgstr["):
            index = int(field[len("msgstr[") : -1])
            entry["msgstr"][index] = entry["msgstr"].get(index, "") + text
    close()
    return entries


def problems_of(po_path, mo_path=None):
    """Entries of the catalogue a Chinese reader would get in English: fuzzy, untranslated,
    or (given the compiled catalogue) missing from it or compiled from an older .po."""
    compiled = gettext.GNUTranslations(open(mo_path, "rb"))._catalog if mo_path else None
    problems = []
    for entry in read_po(po_path):
        where = f"{Path(po_path).name}:{entry['line']} {entry['msgid']!r}"
        key = f"{entry['msgctxt']}\x04{entry['msgid']}" if entry["msgctxt"] else entry["msgid"]
        if entry["fuzzy"]:
            problems.append(f"{where}: fuzzy (check the translation, then remove the flag)")
        elif not entry["msgstr"] or not all(entry["msgstr"].values()):
            problems.append(f"{where}: not translated")
        elif compiled is not None:
            if entry["msgid_plural"] is None:
                found = compiled.get(key)
                wanted = entry["msgstr"][0]
            else:
                found = [compiled.get((key, i)) for i in sorted(entry["msgstr"])]
                wanted = [entry["msgstr"][i] for i in sorted(entry["msgstr"])]
            if found != wanted:
                problems.append(f"{where}: the compiled catalogue has {found!r}, not {wanted!r} (run compilemessages)")
    return problems


def test_every_catalogue_entry_is_translated_and_compiled():
    po_files = sorted(CATALOGUE.glob("*.po"))
    assert po_files, f"no catalogue in {CATALOGUE}"
    problems = []
    for po in po_files:
        assert len(read_po(po)) > 500, f"{po} looks empty or unreadable"
        problems += problems_of(po, po.with_suffix(".mo"))
    assert not problems, "\n".join(problems)


def test_every_string_marked_in_the_sources_is_in_the_catalogue(tmp_path, settings, monkeypatch):
    """makemessages over the sources, into a copy of the catalogue: a string marked for
    translation but never added to the catalogue comes out untranslated (or fuzzy)."""
    if not shutil.which("xgettext") or not shutil.which("msgmerge"):
        pytest.fail("GNU gettext (xgettext, msgmerge) is needed: apt-get install gettext")
    for name in SOURCES:
        if (ROOT / name).exists():
            (tmp_path / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "locale", tmp_path / "locale")
    monkeypatch.chdir(tmp_path)
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    for domain in ("django", "djangojs"):
        call_command(
            "makemessages",
            locale=["zh_Hans"],
            domain=domain,
            symlinks=True,
            ignore_patterns=NOT_TRANSLATED,
            verbosity=0,
        )
    problems = []
    for po in sorted((tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES").glob("*.po")):
        problems += problems_of(po)
    assert not problems, "run makemessages and translate:\n" + "\n".join(problems)


def test_the_po_reader_sees_fuzzy_and_untranslated_entries(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: zh_Hans\\n"\n\n#: a.py:1\nmsgid "Done"\nmsgstr "完成"\n\n'
        '#, fuzzy\nmsgid "Old"\nmsgstr "旧"\n\nmsgid "New"\nmsgstr ""\n\n'
        'msgid "%(n)s pod"\nmsgid_plural "%(n)s pods"\nmsgstr[0] ""\n\n#~ msgid "Gone"\n#~ msgstr ""\n',
        encoding="utf-8",
    )
    assert [e["msgid"] for e in read_po(po)] == ["Done", "Old", "New", "%(n)s pod"]
    assert [p.split(": ", 1)[1] for p in problems_of(po)] == [
        "fuzzy (check the translation, then remove the flag)",
        "not translated",
        "not translated",
    ]


# --- the pages -------------------------------------------------------------------------

# Latin words a Chinese page may show: Kubernetes and other technical terms, product names.
ALLOWED_WORDS = {
    "CPU",
    "CSV",
    "YAML",
    "API",
    "Server",
    "Kubernetes",
    "Pod",
    "Pods",
    "Ceph",
    "RBD",
    "Calico",
    "Webhook",
    "CI",
    "CD",
    "Deployment",
    "StatefulSet",
    "Service",
    "Ingress",
    "Namespace",
    "kubeconfig",
    "Kubeconfig",
    "keyring",
    # names of kinds, products and settings that the Chinese text keeps as they are
    "ClusterIP",
    "ConfigMap",
    "NetworkPolicy",
    "StorageClass",
    "PostgreSQL",
    "Redis",
}
NAV = {
    "仪表盘": "Dashboard",
    "集群": "Clusters",
    "租户": "Tenants",
    "工作负载": "Workloads",
    "操作日志": "Operation log",
    "通知": "Notifications",
}


class VisibleText(HTMLParser):
    """What a reader sees: text outside scripts, styles, code and the language switch
    (whose "English" is meant), and the labels of controls (title, placeholder,
    aria-label, alt, value of buttons)."""

    SKIP = {"script", "style", "code", "pre", "textarea"}

    def __init__(self):
        super().__init__()
        self.parts, self.skipping, self.title = [], [], ""
        self.in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.SKIP or attrs.get("id") == "language-switch":
            self.skipping.append(tag)
        self.in_title = tag == "title"
        for name in ("title", "placeholder", "aria-label", "alt"):
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()
        self.in_title = False

    def handle_data(self, data):
        if self.in_title:
            self.title += data
        if not self.skipping and data.strip():
            self.parts.append(data.strip())


def read_page(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    parser = VisibleText()
    parser.feed(response.content.decode())
    return parser.title.strip(), "\n".join(parser.parts)


def english_words(text, also_allowed=()):
    words = set(re.findall(r"(?<![\w./:@=-])[A-Za-z][A-Za-z']{2,}(?![\w./:@=-])", text))
    return sorted(words - ALLOWED_WORDS - set(also_allowed))


@pytest.mark.django_db
def test_main_pages_read_in_chinese_for_an_operator(operator):
    from console.notifications.notifications import notify_user

    notify_user(operator, "维护通知", body="今晚 22:00 维护。")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")  # a Chinese browser; no cookie, no session language
    client.force_login(operator)
    pages = {  # url: (title, heading, English originals that must not be on the page)
        reverse("console:dashboard"): (
            "仪表盘",
            "仪表盘",
            ["Latest operations", "Sections", "available", "Signed in as"],
        ),
        reverse("console:oplog"): ("操作日志", "操作日志", ["Verify chain", "Export CSV", "Filter", "Actor", "Result"]),
        reverse("console:notification_list"): (
            "通知",
            "通知",
            ["Mark all read", "Send a notice", "Mark read", "Everybody"],
        ),
        reverse("tenants:tenant_list"): ("租户", "租户", ["Create tenant", "Contact", "No tenants yet"]),
        reverse("console:cluster_list"): ("集群", "集群", ["Add cluster", "Nodes ready", "No clusters yet"]),
        reverse("console:password_change"): (
            "修改密码",
            "修改密码",
            ["Old password", "New password", "Change password"],
        ),
        reverse("stacks:template_list"): (
            "编排模板",
            "编排模板",
            ["New template", "No stacks yet", "published to all"],
        ),
        reverse("storage:volume_list"): ("存储", "存储", ["Volumes", "Create volume", "Pools", "Health"]),
    }
    for url, (title, heading, english) in pages.items():
        page_title, text = read_page(client, url)
        assert page_title == f"{title} · 容器云控制台", (url, page_title)
        assert heading in text, (url, heading)
        for chinese, original in NAV.items():
            assert chinese in text, (url, chinese)
            assert original not in text, (url, original)
        assert "Sign out" not in text and "退出登录" in text and "运维管理员" in text, url
        for original in english:
            assert original not in text, (url, original)
        assert english_words(text, also_allowed=[operator.get_username()]) == [], (url, english_words(text))
