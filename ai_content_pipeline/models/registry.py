"""One registry: (step type, model) -> generator. Backends are just ways to fill it."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

from ..errors import UsageError
from .protocol import Generator

ANY_MODEL = "*"
BACKENDS = ("stub", "live")

Fetcher = Callable[[str], bytes]


def _fetch_http(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


class GeneratorRegistry:
    """Maps a step type and model to the generator that serves it.

    A generator registered for `ANY_MODEL` serves every model of its step type
    that has no specific entry (generate_subtitles accepts any model string).
    """

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._generators: dict[tuple[str, str], Generator] = {}
        self._fetchers: dict[str, Fetcher] = {"http": _fetch_http, "https": _fetch_http}

    def register(self, step_type: str, model: str, generator: Generator) -> None:
        self._generators[(step_type, model)] = generator

    def register_fetcher(self, scheme: str, fetcher: Fetcher) -> None:
        """Teach `fetch` a URL scheme (the stub serves its own ``stub://`` URLs offline)."""
        self._fetchers[scheme] = fetcher

    def get(self, step_type: str, model: str) -> Generator:
        generator = self._generators.get((step_type, model))
        if generator is None:
            generator = self._generators.get((step_type, ANY_MODEL))
        if generator is None:
            raise KeyError(f"no generator for {step_type}/{model} in backend {self.backend!r}")
        return generator

    def entries(self) -> list[tuple[str, str, Generator]]:
        """Every (step type, model, generator) registered, in registration order."""
        return [(t, m, g) for (t, m), g in self._generators.items()]

    def models_for(self, step_type: str) -> list[str]:
        return [m for (t, m) in self._generators if t == step_type and m != ANY_MODEL]

    def fetch(self, url: str) -> bytes:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        fetcher = self._fetchers.get(scheme)
        if fetcher is None:
            raise ValueError(f"cannot download {url!r}: unsupported URL scheme")
        return fetcher(url)


def build_registry(backend: str = "stub") -> GeneratorRegistry:
    """Build the registry for a named backend; unknown or unavailable names are usage errors."""
    if backend == "stub":
        from .stub import register_stub_generators

        registry = GeneratorRegistry("stub")
        register_stub_generators(registry)
        return registry
    if backend == "live":
        raise UsageError(
            "backend 'live' is not available in this release; use --backend stub "
            "(offline, deterministic, free)"
        )
    raise UsageError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
