"""The one error type a user sees for a bad recipe, seed file or override."""

from __future__ import annotations


class ConfigError(Exception):
    """A problem in user input, reported before any LLM call is paid.

    `where` is `file[:line]`, `key` the dotted key path (`columns[2].model_alias`), and `fix`
    tells the user what to change. The rendered message carries all three.
    """

    def __init__(self, message: str, *, where: str | None = None, key: str | None = None,
                 fix: str | None = None) -> None:
        self.where = where
        self.key = key
        self.message = message
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        head = ": ".join(p for p in (self.where, self.key) if p)
        text = f"{head}: {self.message}" if head else self.message
        return f"{text}\n  fix: {self.fix}" if self.fix else text
