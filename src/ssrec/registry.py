"""Explicit name registries with duplicate checks and helpful lookup errors."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ssrec.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A case-insensitive mapping from names to objects (model classes, datasets, samplers).

    Args:
        kind: what is registered, used in error messages ("model", "dataset", ...).

    Example:
        >>> MODELS = Registry("model")
        >>> @MODELS.register("LightGCN")
        ... class LightGCN: ...
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._names: dict[str, str] = {}  # lower-case -> canonical

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering its target under ``name``.

        Raises:
            ValueError: if ``name`` (case-insensitively) is already registered.
        """

        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        """Register ``obj`` under ``name``; raises ValueError on a duplicate name."""
        key = name.lower()
        if key in self._names:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._names[key] = name
        self._items[name] = obj

    def get(self, name: str) -> T:
        """Return the object registered under ``name`` (case-insensitive).

        Raises:
            ConfigError: for an unknown name; the message lists the known names and the
                closest match.
        """
        key = self._names.get(str(name).lower())
        if key is None:
            known = sorted(self._names.values(), key=str.lower)
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown {self.kind} {name!r}{hint}; known: {', '.join(known)}")
        return self._items[key]

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name``."""
        self.get(name)
        return self._names[str(name).lower()]

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
