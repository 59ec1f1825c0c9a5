"""Kubernetes resource quantities ("500m", "2", "1.5Gi", "1e3") as Decimals, and back."""

import re
from decimal import Decimal

from kubesemantics.quantity import BINARY_UNITS, SUFFIXES

PATTERN = re.compile(r"^([+]?[0-9]+(?:\.[0-9]*)?|[+]?\.[0-9]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")


def parse(text):
    """Decimal value of a quantity; ValueError with the text when it is not one."""
    match = PATTERN.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 10Gi)")
    number, exponent, suffix = match.groups()
    try:
        if exponent:
            return Decimal(number) * (Decimal(10) ** int(exponent[1:]))
        return Decimal(number) * SUFFIXES[suffix or ""]
    except (ArithmeticError, ValueError):  # InvalidOperation, Overflow (1e999999999), too many digits
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from None


def format_bytes(value):
    """Largest binary unit that keeps a whole number, else one decimal: 8Gi, 1.5Gi, 300Mi."""
    value = Decimal(value)
    for unit in BINARY_UNITS:
        scaled = value / SUFFIXES[unit]
        if scaled >= 1:
            return f"{scaled.normalize():f}{unit}" if scaled == scaled.to_integral() else f"{scaled:.1f}{unit}"
    return f"{value.normalize():f}"


def format_cpu(value):
    value = Decimal(value)
    if value == value.to_integral():
        return f"{value.normalize():f}"
    return f"{(value * 1000).to_integral()}m"


def fraction(used, limit):
    """Share of limit used, 0..1 (capped), or None when there is no limit."""
    if limit in (None, "") or Decimal(limit) == 0:
        return None
    return min(Decimal(1), Decimal(used) / Decimal(limit))


class Share:
    """A used amount against a limit, for bars: `share_of()` names the two (a dataclass
    subclass sets them), `percent` and `colour` follow."""

    def share_of(self):
        raise NotImplementedError

    @property
    def percent(self):
        share = fraction(*self.share_of())
        return None if share is None else int(share * 100)

    @property
    def colour(self):
        percent = self.percent or 0
        return "danger" if percent >= 90 else "warning" if percent >= 70 else "success"
