"""Markdown that operators write (articles, canned replies) → Telegram HTML, and into messages that fit.

Telegram's HTML knows only inline tags (b, i, s, code, pre, a, blockquote), so headings become bold
lines, list items get a bullet or their number, and every piece of text is escaped: whatever an
operator types, the result is markup Telegram accepts. Parsing is markdown-it-py (CommonMark, raw HTML
off, so `<b>` in a file is shown as typed); this module only decides what each element looks like.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

#: Telegram's limit for one message, in UTF-16 code units (counted on our HTML, which is never shorter).
MESSAGE_LIMIT = 4096
_SAFE_LINK = re.compile(r"^(?:https?://|mailto:|tg://)", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_BULLETS = ("•", "◦", "▪")

_parser = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("strikethrough")


def utf16_length(text: str) -> int:
    """Length as Telegram counts it (an emoji outside the BMP is two units)."""
    return len(text.encode("utf-16-le")) // 2


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


@dataclass(frozen=True)
class Block:
    """One piece of a message that is never cut: a paragraph, heading, code block or list item."""

    html: str
    tight: bool = False  # follows the previous block after one line break instead of a blank line


def _inline(node: SyntaxTreeNode) -> str:
    out: list[str] = []
    for child in node.children:
        kind = child.type
        if kind == "text":
            out.append(_escape(child.content))
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "code_inline":
            out.append(f"<code>{_escape(child.content)}</code>")
        elif kind in ("strong", "em", "s"):
            tag = {"strong": "b", "em": "i", "s": "s"}[kind]
            out.append(f"<{tag}>{_inline(child)}</{tag}>")
        elif kind == "link":
            out.append(_link(str(child.attrs.get("href", "")), _inline(child)))
        elif kind == "image":
            out.append(_link(str(child.attrs.get("src", "")), _inline(child) or "image"))
        else:  # html_inline cannot occur with html off; anything new is shown as its text
            out.append(_escape(child.content) if child.content else _inline(child))
    return "".join(out)


def _link(href: str, label: str) -> str:
    if _SAFE_LINK.match(href):
        return f'<a href="{html.escape(href, quote=True)}">{label}</a>'
    return f"{label} ({_escape(href)})" if href and href not in label else label


def _blocks(node: SyntaxTreeNode, depth: int = 0) -> list[Block]:
    """The node's children as blocks; list items of a list follow each other tightly."""
    out: list[Block] = []
    for child in node.children:
        kind = child.type
        if kind == "paragraph":
            out.append(Block(_inline(child.children[0]) if child.children else ""))
        elif kind == "heading":
            out.append(Block(f"<b>{_inline(child.children[0])}</b>"))
        elif kind in ("code_block", "fence"):
            out.append(Block(f"<pre>{_escape(child.content.rstrip(chr(10)))}</pre>"))
        elif kind == "hr":
            out.append(Block("⎯⎯⎯⎯⎯⎯"))
        elif kind == "blockquote":
            inner = "\n".join(b.html for b in _blocks(child, depth))
            out.append(Block(f"<blockquote>{inner}</blockquote>"))
        elif kind in ("bullet_list", "ordered_list"):
            out.extend(_list(child, depth))
        elif kind == "html_block":
            out.append(Block(_escape(child.content.strip())))
    return out


def _list(node: SyntaxTreeNode, depth: int) -> list[Block]:
    ordered = node.type == "ordered_list"
    number = int(node.attrs.get("start", 1)) if ordered else 0
    indent = "    " * depth
    out: list[Block] = []
    for i, item in enumerate(node.children):
        marker = f"{number + i}." if ordered else _BULLETS[min(depth, len(_BULLETS) - 1)]
        inner = _blocks(item, depth + 1)
        first = inner[0].html if inner else ""
        rest = [b.html for b in inner[1:]]
        text = "\n".join([f"{indent}{marker} {first}", *rest])
        out.append(Block(text, tight=i > 0 or depth > 0))
    return out


def to_blocks(markdown: str) -> list[Block]:
    """The document as Telegram HTML blocks, in order."""
    root = SyntaxTreeNode(_parser.parse(markdown))
    return [b for b in _blocks(root) if b.html.strip()]


def to_html(markdown: str) -> str:
    """The whole document as one Telegram HTML text (for short texts such as canned replies)."""
    return join(to_blocks(markdown))


def join(blocks: list[Block]) -> str:
    parts: list[str] = []
    for block in blocks:
        if parts:
            parts.append("\n" if block.tight else "\n\n")
        parts.append(block.html)
    return "".join(parts)


def plain_text(markdown: str) -> str:
    """What a reader sees, without markup: for matching, where link targets and tags are noise."""
    return html.unescape(_TAG.sub("", to_html(markdown)))


def _cut(block_html: str, limit: int) -> list[Block]:
    """A block longer than a message loses its markup and is cut between words (or anywhere, if it must)."""
    words = re.split(r"(\s+)", html.unescape(_TAG.sub("", block_html)))
    out: list[str] = []
    current = ""
    for word in words:
        candidate = current + word
        if utf16_length(_escape(candidate)) <= limit:
            current = candidate
            continue
        if current.strip():
            out.append(current)
        current = word.lstrip()
        while utf16_length(_escape(current)) > limit:  # one enormous "word": cut it by characters
            size = len(current)
            while utf16_length(_escape(current[:size])) > limit:
                size = max(1, size * 3 // 4)
            out.append(current[:size])
            current = current[size:]
    if current.strip():
        out.append(current)
    return [Block(_escape(part.strip())) for part in out]


def split_messages(blocks: list[Block], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Blocks packed into as few messages as fit Telegram's limit; blocks are never split unless alone too long."""
    messages: list[str] = []
    current: list[Block] = []
    for block in blocks:
        pieces = [block] if utf16_length(block.html) <= limit else _cut(block.html, limit)
        for piece in pieces:
            if current and utf16_length(join([*current, piece])) <= limit:
                current.append(piece)
                continue
            if current:
                messages.append(join(current))
            current = [Block(piece.html)]
    if current:
        messages.append(join(current))
    return messages
