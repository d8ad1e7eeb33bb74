"""The class set, below training: the store (``store``: drawings with their labels in SQLite or
PostgreSQL), its folder format (``folder``: export, a checked import), and what the Class view
shows (``answers``: every model's digit per drawing, kept up to date; ``leaderboard``)."""

from .store import ClassSet, ClassSetError, Drawing, TooSoon

__all__ = ["ClassSet", "ClassSetError", "Drawing", "TooSoon"]
