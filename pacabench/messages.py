"""How pacabench words an exception in a row or an error line: its type and first line, never a
traceback (torch-free, so every layer can use it)."""


def one_line(error: BaseException) -> str:
    """``"RuntimeError: first line of the message"``."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".strip()
