"""A small 5-field cron parser (minute hour day-of-month month day-of-week, with ranges,
steps, lists, names and @hourly-style macros), enough for CronJob schedules."""

from datetime import timedelta

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]
NAMES = [
    {},
    {},
    {},
    {m: n + 1 for n, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    {d: n for n, d in enumerate("sun mon tue wed thu fri sat".split())},
]


class CronError(ValueError):
    pass


def _field(text, index):
    low, high = RANGES[index]
    values = set()
    for part in text.lower().split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"invalid step {step_text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, index), _value(b, index)
        else:
            start = _value(part, index)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high + (1 if index == 4 else 0)) or start > end:
            raise CronError(f"value out of range in {text!r}")
        values.update(v % 7 if index == 4 else v for v in range(start, end + 1, step))
    return values


def _value(text, index):
    if text in NAMES[index]:
        return NAMES[index][text]
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text}: strconv.Atoi: parsing {text!r}: invalid syntax")
    return int(text)


def parse_schedule(schedule):
    text = schedule.strip()
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        text = text.split(None, 1)[1] if " " in text else ""
    text = MACROS.get(text, text)
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed = [_field(f, i) for i, f in enumerate(fields)]
    parsed.append((fields[2] in ("*", "?"), fields[4] in ("*", "?")))
    return parsed


def next_after(schedule, after):
    """The first time strictly after `after` (a datetime) that the schedule fires."""
    minutes, hours, days, months, weekdays, (any_day, any_weekday) = parse_schedule(schedule)
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(60 * 24 * 366 * 2):
        if t.month not in months:
            t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            continue
        day_ok = t.day in days
        weekday_ok = (t.isoweekday() % 7) in weekdays
        matches = (day_ok and weekday_ok) if (any_day or any_weekday) else (day_ok or weekday_ok)
        if not matches:
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
            continue
        if t.hour not in hours:
            t = t.replace(minute=0) + timedelta(hours=1)
            continue
        if t.minute not in minutes:
            t += timedelta(minutes=1)
            continue
        return t
    raise CronError("no time matches the schedule")
