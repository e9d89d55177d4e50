"""Prompt templates kept as text files in prompts/, loaded and checked once at start.

A template names its inputs as {placeholder}. Loading fails loudly when a file is missing, lacks a
placeholder the code fills in, or names one the code does not know (a typo such as {questoin}
would otherwise reach the model verbatim and silently degrade every answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Template file name -> the placeholders it must contain (and the only ones it may contain).
REQUIRED: dict[str, frozenset[str]] = {
    "answer": frozenset({"sources", "question"}),  # instruction / chat models
    "answer_base": frozenset({"sources", "question"}),  # base models without a chat template
    "condense": frozenset({"history", "question"}),  # follow-up -> standalone question
}

# Article text must not be able to close the <source> block it is quoted in.
_SOURCE_TAG = re.compile(r"<\s*/?\s*sources?\b", re.I)


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    placeholders: frozenset[str]

    def render(self, **values: str) -> str:
        """Fill every placeholder in one pass: a value is never re-scanned for placeholders, so an
        article quoting "{question}" stays literal text."""
        missing = self.placeholders - values.keys()
        if missing:
            raise ValueError(f"prompt {self.name!r} needs values for {sorted(missing)}")
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), self.text)


@dataclass(frozen=True)
class Prompts:
    answer: Template
    answer_base: Template
    condense: Template


def load_template(path: Path, required: frozenset[str]) -> Template:
    """Read one template and check its placeholders against `required`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"prompt file {path} cannot be read ({exc}); restore it or set RAG_PROMPTS_DIR") from exc
    found = frozenset(_PLACEHOLDER.findall(text))
    missing, unknown = required - found, found - required
    if missing or unknown:
        problems = []
        if missing:
            problems.append("missing " + ", ".join("{" + p + "}" for p in sorted(missing)))
        if unknown:
            problems.append("unknown " + ", ".join("{" + p + "}" for p in sorted(unknown)))
        raise ConfigError(
            f"prompt file {path}: {'; '.join(problems)}. It must contain exactly "
            + ", ".join("{" + p + "}" for p in sorted(required))
        )
    return Template(path.stem, text.strip() + "\n", found)


def load_prompts(folder: Path) -> Prompts:
    """All templates from `folder` (config.prompts_dir), checked; raises ConfigError on any problem."""
    loaded = {name: load_template(Path(folder) / f"{name}.txt", req) for name, req in REQUIRED.items()}
    return Prompts(**loaded)


def quote_source(text: str) -> str:
    """Article text made safe to place between <source> tags (tag look-alikes are defused)."""
    return _SOURCE_TAG.sub(lambda m: m.group(0).replace("<", "‹"), text)


def format_sources(items: list[tuple[int, str, str]]) -> str:
    """(number, title, text) triples as delimited source blocks, in the given order."""
    blocks = []
    for n, title, text in items:
        head = f"Title: {quote_source(title)}\n" if title else ""
        blocks.append(f'<source id="{n}">\n{head}{quote_source(text.strip())}\n</source>')
    return "\n".join(blocks)
