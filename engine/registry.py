"""Name → builder registries: every ablation variant is chosen by name through one of these.

A registry maps the string a config file uses (``"cosine"``, ``"efficientnet_lite0"``) to the
callable that builds it, so adding a variant is one decorated function and the config
validator, the CLI and the TUI menus all read the same list of names.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from engine.messages import _

T = TypeVar("T")

# Every registry by kind, so the config validator can check any field that names a variant.
REGISTRIES: dict[str, "Registry"] = {}


class UnknownNameError(KeyError):
    """Raised when a config names a variant that no registry entry provides."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


class Registry(Generic[T]):
    """An ordered mapping from variant names to builders, with one-line help per entry."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._help: dict[str, str] = {}
        REGISTRIES[kind] = self

    def register(self, name: str, help: str = "") -> Callable[[T], T]:
        """Decorate a builder so that configs can select it as ``name``."""

        def decorator(builder: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = builder
            self._help[name] = help or (getattr(builder, "__doc__", "") or "").strip().split("\n")[0]
            return builder

        return decorator

    def get(self, name: str) -> T:
        """Return the builder registered as ``name``, or raise naming the allowed names."""
        try:
            return self._entries[name]
        except KeyError:
            allowed = ", ".join(self._entries)
            raise UnknownNameError(_("unknown {kind} {name!r}; allowed: {allowed}").format(
                kind=self.kind, name=name, allowed=allowed)) from None

    def names(self) -> list[str]:
        return list(self._entries)

    def help(self, name: str) -> str:
        return self._help[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)
