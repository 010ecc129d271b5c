"""The Hive OS rig's configuration files: /hive-config/rig.conf, wallet.conf, nvidia-oc.conf,
amd-oc.conf and autofan.conf (minershive/hiveos-linux). Each is a shell file the rig's scripts
source with `.` (hive/bin/hello, hive/bin/agent), as root, one `KEY=value` assignment a line:

    HIVE_HOST_URL="http://api.hiveos.farm"
    RIG_ID=1234567
    RIG_PASSWD="..."
    WORKER_NAME="rig-01"
    WD_MINHASHES='{"lolminer":150000}'

Only that shape is taken: blank lines, comments, and one assignment a line whose value is a
single shell word (unquoted, 'single-quoted', "double-quoted", or a run of them); a quoted value
may span lines, as wallet.conf's *_USER_CONFIG values do. Anything else a shell would do when
sourcing the file (commands, `;`, pipes, redirections, `$(...)` and backquotes) is refused: ethdash
hands these files back to the rig, and must never hand it something that runs.
"""

import re
from dataclasses import dataclass

KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters that end or change a shell word outside quotes: a value holding one is not a plain
# assignment (`A=1;reboot`, `A=$(curl ...)`, `A=x|sh`).
OPERATORS = set(";&|<>()`")
# A value written back needs no quoting when it is made of these alone.
PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./:@%+,=-]*")


class ConfError(ValueError):
    """A file that is not `KEY=value` lines; str() names the line and what is wrong there."""


@dataclass(frozen=True)
class Line:
    """One line of the file as pasted (several when a quoted value spans lines), without its
    newline; `key` is None for a blank or comment line."""

    text: str
    key: str | None
    number: int  # 1-based, where it starts


def _value_end(text, i, number):
    """The index just past the shell word starting at text[i] (the value of an assignment)."""
    n = len(text)
    while i < n:
        c = text[i]
        if c in " \t\n":
            return i
        if c == "'":  # single quotes: everything up to the next ' is literal
            close = text.find("'", i + 1)
            if close < 0:
                raise ConfError(f"line {number}: a ' that is never closed")
            i = close + 1
        elif c == '"':
            i += 1
            while True:
                if i >= n:
                    raise ConfError(f'line {number}: a " that is never closed')
                if text[i] == "\\":
                    i += 2
                elif text[i] == '"':
                    i += 1
                    break
                elif text[i] == "`" or text.startswith("$(", i):
                    raise ConfError(f"line {number}: a command substitution, not a plain value")
                else:
                    i += 1
        elif c == "\\":
            if i + 1 >= n:
                raise ConfError(f"line {number}: a \\ at the end of the file")
            i += 2
        elif text.startswith("$(", i):
            raise ConfError(f"line {number}: a command substitution, not a plain value")
        elif c in OPERATORS:
            raise ConfError(f"line {number}: {c!r} in the value: not a plain KEY=value line")
        else:
            i += 1
    return i


def parse(text: str) -> list[Line]:
    """The file's lines, each a blank line, a comment or one `KEY=value` assignment. Raises
    ConfError for anything else, naming the first line that is wrong."""
    text = text.replace("\r\n", "\n")
    lines, i, number, n = [], 0, 1, len(text)
    while i < n:
        start = i
        while i < n and text[i] in " \t":
            i += 1
        key = None
        if i < n and text[i] not in "#\n":
            match = KEY.match(text, i)
            if match is None or not text.startswith("=", match.end()):
                shown = text[start:].split("\n", 1)[0]
                raise ConfError(f"line {number}: not a KEY=value line: {shown[:60]!r}")
            key = match.group()
            i = _value_end(text, match.end() + 1, number)
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] not in "#\n":
                raise ConfError(
                    f"line {number}: one KEY=value a line; {text[i : i + 30]!r} follows {key}'s "
                    "value"
                )
        end = text.find("\n", i)
        end = n if end < 0 else end
        lines.append(Line(text[start:end], key, number))
        number += text.count("\n", start, end) + 1
        i = end + 1
    return lines


def render(lines) -> str:
    return "".join(f"{line.text}\n" for line in lines)


def without_values(text: str, keys) -> tuple[str, int]:
    """The file with the values of `keys` taken out, each assignment left as a bare `KEY=` where
    it was, and without the comments that hold one (a commented-out `#RIG_PASSWD="..."` is still
    the password); returns it and how many lines changed."""
    keys, out, changed = set(keys), [], 0
    for line in parse(text):
        if line.key in keys:
            blank = f"{line.key}="
            changed += line.text.strip() != blank
            out.append(Line(blank, line.key, line.number))
        elif line.key is None and any(f"{key}=" in line.text for key in keys):
            changed += 1
        else:
            out.append(line)
    return render(out), changed


def quote(value: str) -> str:
    """A shell word whose value is `value`, as Hive writes them: a number bare, double quotes
    around another plain value, single quotes (each ' written '\\'') around anything else."""
    if value.isdigit() and value.isascii():
        return value
    if PLAIN_VALUE.fullmatch(value):
        return f'"{value}"'
    return "'" + value.replace("'", "'\\''") + "'"


def with_values(text: str, values: dict[str, str]) -> str:
    """The file with each key of `values` assigned its value, quoted: the key's first assignment
    is rewritten in place and any later one dropped (sourcing the file, the last would win); the
    keys the file lacks are added, in the order given, after the last one it has (at the top when
    it has none), so RIG_PASSWD lands beside RIG_ID as in Hive's own files."""
    out, seen, after = [], set(), 0
    for line in parse(text):
        if line.key in values:
            if line.key in seen:
                continue
            seen.add(line.key)
            line = Line(f"{line.key}={quote(values[line.key])}", line.key, line.number)
            after = len(out) + 1
        out.append(line)
    missing = [Line(f"{k}={quote(v)}", k, 0) for k, v in values.items() if k not in seen]
    return render(out[:after] + missing + out[after:])


def keys(text: str) -> list[str]:
    return [line.key for line in parse(text) if line.key is not None]
