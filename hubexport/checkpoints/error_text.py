"""One-line descriptions of third-party exceptions, for CheckpointError messages."""


def first_line(error: BaseException) -> str:
    """`Type: first line of the message`; libraries often raise multi-line messages."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
