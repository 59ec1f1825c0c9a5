"""The sandbox shell's printf, as printf(1) in a busybox image behaves: pipelines' scripts and
the web terminal run in it."""

import pytest

from console.sandbox.shell import cmd_printf


def printf(*args):
    out, err = [], []
    status = cmd_printf(None, list(args), None, out.append, err.append)
    return "".join(out), "".join(err), status


@pytest.mark.parametrize(
    "args,printed",
    [
        (("%s-%s\n", "a", "b"), "a-b\n"),
        (("100%%\n",), "100%\n"),
        (("%%s is literal\n", "x"), "%s is literal\n"),  # %% first: no argument taken
        (("a\\\\nb",), "a\\nb"),  # an escaped backslash, then a plain n
        (("tab\\there",), "tab\there"),
        (("%5s|%-5s|\n", "ab", "cd"), "   ab|cd   |\n"),
        (("%03d %x %o %c\n", "7", "255", "8", "hello"), "007 ff 10 h\n"),
        (("%s\n", "one", "two", "three"), "one\ntwo\nthree\n"),  # the format again for what is left
        (("%s=%s;", "a", "1", "b"), "a=1;b=;"),  # missing arguments are empty
        (("no conversions\n", "ignored"), "no conversions\n"),
    ],
)
def test_printf_formats_like_printf_1(args, printed):
    out, err, status = printf(*args)
    assert (out, err, status) == (printed, "", 0)


def test_a_bad_number_prints_zero_says_so_and_fails():
    assert printf("%d|%d\n", "12", "abc") == ("12|0\n", "printf: invalid number 'abc'\n", 1)


def test_no_format_is_a_usage_error():
    out, err, status = printf()
    assert status == 1 and out == "" and "usage" in err
