"""How pacabench words an exception in a row or an error line: its type and first line, never a
traceback; and what of a text read from a file may reach a terminal (torch-free, so every layer
can use it)."""
import re

# Escape sequences (CSI such as clear-screen, OSC such as set-title, and two-byte ones), then any
# other control character (C0, DEL, C1) and the bidirectional overrides that reorder what is shown.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def one_line(error: BaseException) -> str:
    """``"RuntimeError: first line of the message"``."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".strip()


def printable(text: str, lines: bool = False) -> str:
    """``text`` with escape sequences and control characters removed, so data from a results file
    cannot move the cursor, clear the screen or retitle the terminal it is printed on. Tabs stay;
    line breaks stay with ``lines``, else each becomes a space (one line per record); a carriage
    return that could overwrite a line is a space."""
    text = _CONTROLS.sub("", _ESCAPES.sub("", str(text))).replace("\r\n", "\n").replace("\r", " ")
    return text if lines else text.replace("\n", " ")
