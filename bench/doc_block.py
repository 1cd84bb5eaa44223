"""Generated blocks inside hand-written Markdown: a re-run replaces only the text between
its block's markers, so the prose around it (analysis, profiling notes) is kept."""
from __future__ import annotations

from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    return (f"<!-- BEGIN GENERATED {name} (rewritten by bench/; edit outside this block) -->",
            f"<!-- END GENERATED {name} -->")


def replace_block(document: Path, name: str, text: str) -> None:
    """Puts `text` between the markers of block `name` in `document`; a document without
    them gets the block appended (a missing document is started with a title)."""
    begin, end = markers(name)
    current = document.read_text() if document.exists() else "# Benchmarks\n"
    if begin not in current or end not in current:
        current = current.rstrip("\n") + f"\n\n{begin}\n{end}\n"
    before, rest = current.split(begin, 1)
    _, after = rest.split(end, 1)
    document.write_text(f"{before}{begin}\n\n{text.strip()}\n\n{end}{after}")
