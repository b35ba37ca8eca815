"""The one exception type for mistakes in the user's input.

Raise :class:`UserError` with a single line that names the file, the key and what is allowed; the CLI
prints it to stderr and exits with code 2, without a traceback.
"""


class UserError(Exception):
    """Bad input from the user (a file, a config key, a command-line value)."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
