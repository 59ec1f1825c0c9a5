"""Kubernetes resource quantities: "250m", "1.5", "128Mi", "1G", "12345Ki", "1500000n"."""

from decimal import Decimal, InvalidOperation

from kubesemantics.quantity import BINARY_UNITS
from kubesemantics.quantity import SUFFIXES as _SUFFIX


def parse(value):
    """A quantity as a Decimal; raises ValueError when it is not one."""
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    text = str(value).strip()
    if not text:
        raise ValueError("empty quantity")
    for suffix in (*BINARY_UNITS, "n", "u", "m", "k", "M", "G", "T", "P", "E"):
        if text.endswith(suffix):
            number, unit = text[: -len(suffix)], suffix
            break
    else:
        number, unit = text, ""
    try:
        return Decimal(number) * _SUFFIX[unit]
    except (InvalidOperation, KeyError):
        raise ValueError(f"quantities must match the regular expression: {text}") from None


def valid(value):
    try:
        parse(value)
        return True
    except ValueError:
        return False


def fmt_cpu(cores):
    """Cores as the API server writes them: "2", "1500m"."""
    cores = Decimal(cores)
    if cores == cores.to_integral_value():
        return str(int(cores))
    millis = (cores * 1000).to_integral_value(rounding="ROUND_CEILING")
    return f"{int(millis)}m"


def fmt_bytes(amount):
    """Bytes in the largest binary unit that keeps it whole: "128Mi", "1Gi", "1500"."""
    amount = int(Decimal(amount).to_integral_value(rounding="ROUND_CEILING"))
    if amount == 0:
        return "0"
    for unit in BINARY_UNITS:
        size = int(_SUFFIX[unit])
        if amount % size == 0:
            return f"{amount // size}{unit}"
    return str(amount)


def fmt(name, value):
    """A quota/usage value for a resource name: cpu-like in cores, the rest in bytes or counts."""
    if name in ("cpu", "requests.cpu", "limits.cpu"):
        return fmt_cpu(value)
    if "memory" in name or "storage" in name:
        return fmt_bytes(value)
    return str(int(value))


def canonical(value):
    """A quantity as the API server writes it back (Quantity.String()): "1024Mi" → "1Gi", "1000M" → "1G"."""
    try:
        amount = parse(value)
    except ValueError:
        return str(value)
    text = str(value).strip()
    if amount != amount.to_integral_value():
        return text
    if text.endswith(BINARY_UNITS):
        return fmt_bytes(amount)
    for unit in ("E", "P", "T", "G", "M", "k"):
        if amount and amount % _SUFFIX[unit] == 0:
            return f"{int(amount // _SUFFIX[unit])}{unit}"
    return str(int(amount))
