"""Self-help articles: markdown files an operator keeps in KB_DIR, loaded once at start.

An article is a pair of files, `NAME.en.md` and `NAME.ru.md`, each starting with a `# Title` line
followed by the text. Loading is all or nothing: one malformed article refuses the whole directory with
a message naming every bad file, because a desk that silently drops an article offers worse answers
with nobody told. No directory configured, or an empty one, means no self-help; a configured directory
that does not exist is a configuration error. `README.md` is ignored so the folder can explain itself;
files that are not `.md` (pictures, dotfiles) are ignored too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from helpdesk.i18n import FALLBACK, LANGUAGES
from helpdesk.markdown_html import MESSAGE_LIMIT, Block, plain_text, split_messages, to_blocks

#: An article's name: what agents type in `/kb N NAME` and what a button carries (64-byte callback data).
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_FILE = re.compile(r"^(?P<name>.+)\.(?P<lang>[^.]+)\.md$")
_TITLE = re.compile(r"^# +(?P<title>\S.*?)\s*#*\s*$")
MAX_TITLE = 120  # characters: a title is a button label too
MAX_FILE_BYTES = 256 * 1024


class KnowledgeBaseError(ValueError):
    """The directory cannot be used; one line naming it and each bad file (the caller says which setting)."""


@dataclass(frozen=True)
class Article:
    """One article in every language: titles and markdown bodies keyed by language code."""

    name: str
    titles: dict[str, str]
    bodies: dict[str, str]

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or self.titles[FALLBACK]

    def messages(self, lang: str, limit: int = MESSAGE_LIMIT) -> list[str]:
        """The article in `lang` as Telegram HTML messages, the bold title first, each within `limit`."""
        title = Block(f"<b>{html.escape(self.title(lang), quote=False)}</b>")
        body = self.bodies.get(lang) or self.bodies[FALLBACK]
        return split_messages([title, *to_blocks(body)], limit)

    def search_text(self, lang: str) -> tuple[str, str]:
        """(title, body as plain text) in `lang`: what the matcher indexes."""
        return self.title(lang), plain_text(self.bodies[lang])


@dataclass(frozen=True)
class KnowledgeBase:
    """The loaded articles, by name; empty when the desk has no self-help."""

    articles: tuple[Article, ...] = ()
    directory: Path | None = None

    def __bool__(self) -> bool:
        return bool(self.articles)

    def __len__(self) -> int:
        return len(self.articles)

    def __iter__(self) -> Iterator[Article]:
        return iter(self.articles)

    def get(self, name: str) -> Article | None:
        """The article called `name` (as an agent types it: case and spaces forgiven), or None."""
        wanted = name.strip().lower()
        return next((a for a in self.articles if a.name == wanted), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.articles)


def _read_article_file(path: Path) -> tuple[str, str]:
    """(title, markdown body) of one file; ValueError says what is wrong with it."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if not text.strip():
        raise ValueError("empty file")
    first, _, body = text.replace("\r\n", "\n").partition("\n")
    match = _TITLE.match(first)
    if not match:
        raise ValueError("the first line must be the title, as '# Title'")
    title = match.group("title")
    if len(title) > MAX_TITLE:
        raise ValueError(f"title longer than {MAX_TITLE} characters")
    if not plain_text(body).strip():
        raise ValueError("no text after the title")
    return title, body.strip("\n")


def load_knowledge_base(directory: Path | str | None) -> KnowledgeBase:
    """Every article in `directory`, sorted by name; KnowledgeBaseError (one line) when any is malformed.

    None (KB_DIR not set) and an existing directory with no articles give an empty KnowledgeBase.
    """
    if directory is None or str(directory).strip() == "":
        return KnowledgeBase()
    root = Path(directory)
    if not root.exists():
        raise KnowledgeBaseError(f"{root}: no such directory")
    if not root.is_dir():
        raise KnowledgeBaseError(f"{root}: not a directory")
    problems: list[str] = []
    found: dict[str, dict[str, tuple[str, str]]] = {}
    try:
        paths = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as exc:
        raise KnowledgeBaseError(f"{root}: cannot read ({exc.strerror or exc})") from None
    for path in paths:
        if path.suffix.lower() != ".md" or path.name.lower() == "readme.md":
            continue
        match = _FILE.match(path.name)
        if not match or match.group("lang") not in LANGUAGES:
            problems.append(f"{path.name}: name must be NAME.en.md or NAME.ru.md")
            continue
        name, lang = match.group("name"), match.group("lang")
        if not NAME_PATTERN.match(name):
            problems.append(f"{path.name}: NAME must be 1-32 lowercase letters, digits, '-' or '_'")
            continue
        try:
            found.setdefault(name, {})[lang] = _read_article_file(path)
        except OSError as exc:
            problems.append(f"{path.name}: cannot read ({exc.strerror or exc})")
        except ValueError as exc:
            problems.append(f"{path.name}: {exc}")
            found.setdefault(name, {})[lang] = ("", "")  # present, so not also reported as missing
    articles: list[Article] = []
    for name, versions in sorted(found.items()):
        missing = [lang for lang in LANGUAGES if lang not in versions]
        if missing:
            problems.append(f"{name}: no {' or '.join(f'{name}.{lang}.md' for lang in missing)}")
            continue
        if all(title for title, _ in versions.values()):
            articles.append(
                Article(
                    name=name,
                    titles={lang: title for lang, (title, _) in versions.items()},
                    bodies={lang: body for lang, (_, body) in versions.items()},
                )
            )
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise KnowledgeBaseError(f"{root}: {count}: " + "; ".join(problems))
    return KnowledgeBase(tuple(articles), root)
