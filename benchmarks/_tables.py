"""Summary tables the benchmarks fill and `conftest.py` prints at the end of the run."""

from __future__ import annotations

# title -> (header, rows)
TABLES: dict[str, tuple[list[str], list[list[str]]]] = {}


def add_row(title: str, header: list[str], row: list[object]) -> None:
    """Add one row to a table printed after the run (visible without ``-s``)."""
    _, rows = TABLES.setdefault(title, (header, []))
    rows.append([str(cell) for cell in row])


def render(title: str) -> list[str]:
    header, rows = TABLES[title]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return lines
