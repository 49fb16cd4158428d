"""Outside text (CI names, descriptions, attributes, host names) made safe to show.

Such text must never be read as Rich or Textual markup and never reach the terminal as control
characters: an ESC in a CI name could otherwise clear the operator's screen or retitle the
terminal. Build every displayed value with `safe_text`, never by formatting strings into markup.
"""

from __future__ import annotations

import re

from rich.text import Text

# C0 controls, DEL, C1 controls; plus the Unicode bidi overrides and line separators, which can
# make a name read differently from what it is ("Trojan source").
_OTHER_UNSAFE = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f{_OTHER_UNSAFE}]")
_UNSAFE_KEEPING_NEWLINES = re.compile(f"[\x00-\x09\x0b-\x1f{_OTHER_UNSAFE}]")
ESCAPE_STYLE = "reverse"


def _visible(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe_str(value: object) -> str:
    """`value` as a plain string with every control character replaced by a visible escape."""
    return _UNSAFE.sub(lambda m: _visible(m.group()), str(value))


def safe_text(value: object, style: str = "", *, keep_newlines: bool = False) -> Text:
    """`value` as a Text that displays literally: no markup, control characters escaped.

    The escapes are shown reversed so an operator notices a name that carries them.
    """
    raw = "" if value is None else str(value)
    pattern = _UNSAFE_KEEPING_NEWLINES if keep_newlines else _UNSAFE
    if pattern.search(raw) is None:  # the usual case, and a queue page makes ~600 of these
        return Text(raw, style=style, no_wrap=not keep_newlines, end="")
    text = Text(style=style, no_wrap=not keep_newlines, end="")
    position = 0
    for match in pattern.finditer(raw):
        text.append(raw[position : match.start()])
        text.append(_visible(match.group()), style=ESCAPE_STYLE)
        position = match.end()
    text.append(raw[position:])
    return text
