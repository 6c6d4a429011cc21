"""Text at the door: every string a command carries is Unicode NFC, free of characters no
store or wire takes, and of bounded length.

PostgreSQL's ``text`` and ``jsonb`` cannot hold NUL (U+0000), and nothing can encode a lone
surrogate as UTF-8: an event carrying either can be stored by the write side and then fail
every read model for good. So every text field of every request model and import row goes
through :func:`clean`, which

- folds the value to NFC (one spelling of é, of 한, of a CJK compatibility form's base),
  so equal text compares and indexes equal; lengths are counted after folding;
- refuses control characters (Unicode category Cc: C0, DEL, C1), lone surrogates (Cs)
  and the 66 noncharacters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF); a multi-line field takes
  tab and newline (CR LF and CR become LF), a single-line field neither, nor U+2028/U+2029;
- keeps format characters (Cf: ZWJ in emoji, ZWNJ, RTL marks) and unassigned code points:
  they are valid in names and every store takes them.

Request models use the pydantic types (``Annotated[str, line(500, min_length=1)]`` or the
aliases :data:`Line`, :data:`Name`, :data:`Text`, :data:`Code`, :data:`Identifier`); the
bulk import calls :func:`clean` directly. Errors carry a stable ``code`` and say which
character, where.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

# Names, titles: registered names (企业名称) and plan titles run to a few dozen characters.
NAME_MAX = 200
# Reasons, addresses, short descriptions: one sentence or two.
LINE_MAX = 500
# Legal basis, content, notes: several paragraphs of a regulation's text, not the regulation.
TEXT_MAX = 4_000
# Codes (items, departments, tags, batches): machine identifiers, never prose.
CODE_MAX = 64

_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f"  # Cc without tab and newline (CR is folded first)
_SURROGATES = "\ud800-\udfff"
_NONCHARACTERS = "\ufdd0-\ufdef\ufffe\uffff" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17)
)
_REFUSED_MULTI = re.compile(f"[{_CONTROL}{_SURROGATES}{_NONCHARACTERS}]")
_REFUSED_SINGLE = re.compile(f"[\t\n\u2028\u2029{_CONTROL}{_SURROGATES}{_NONCHARACTERS}]")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# USCC (统一社会信用代码, spaces and lower case tolerated: the domain compacts it) or a
# non-market subject's PREFIX-local-id.
_IDENTIFIER = re.compile(r"[0-9A-Za-z][0-9A-Za-z -]*")
# A non-market subject's identifier (products, projects, behaviours): ``PREFIX-local-id``.
# The registry admits it; the portal links and looks a subject up by it.
NON_MARKET_ID = re.compile(r"^[A-Z]{2,10}-[0-9A-Za-z-]{4,40}$")


class TextError(ValueError):
    """A text value the door refuses; ``code`` is stable, ``message`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _describe(char: str) -> str:
    name = unicodedata.name(char, "") or {
        "Cc": "control character",
        "Cs": "lone surrogate",
    }.get(unicodedata.category(char), "noncharacter")
    return f"U+{ord(char):04X} ({name})"


def _blank(value: str) -> bool:
    """Only white space (any Unicode space) and invisible format characters (Cf)."""
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in value)


def clean(
    value: str,
    *,
    multiline: bool = False,
    max_length: int | None = None,
    min_length: int = 0,
    pattern: re.Pattern[str] | None = None,
) -> str:
    """``value`` in NFC, or :class:`TextError` naming the first refused character.

    Lengths count code points after NFC folding; ``pattern`` must match the whole value.
    """
    # Printable ASCII (codes, identifiers, most numbers) is NFC and holds nothing refused:
    # a bulk import checks millions of such cells.
    bad = None
    if not (value.isascii() and value.isprintable()):
        if multiline and "\r" in value:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        value = unicodedata.normalize("NFC", value)
        bad = (_REFUSED_MULTI if multiline else _REFUSED_SINGLE).search(value)
    if bad is not None:
        kind = "line_break" if bad.group() in "\n\u2028\u2029" else "forbidden_character"
        where = "a single-line field" if kind == "line_break" or bad.group() == "\t" else "text"
        raise TextError(
            kind,
            f"{_describe(bad.group())} at position {bad.start()} is not allowed in {where}",
        )
    if max_length is not None and len(value) > max_length:
        raise TextError(
            "string_too_long", f"at most {max_length} characters, not {len(value)} (after NFC)"
        )
    if len(value) < min_length:
        raise TextError("string_too_short", f"at least {min_length} character(s)")
    if min_length and _blank(value):
        # A required name of spaces or zero-width characters names nothing anyone can read.
        raise TextError("blank", "must hold a visible character, not only spaces or format marks")
    if pattern is not None and not pattern.fullmatch(value):
        raise TextError("string_pattern_mismatch", f"must match {pattern.pattern}")
    return value


@dataclass(frozen=True)
class TextRule:
    """Pydantic metadata for ``Annotated[str, ...]``: :func:`clean` with these settings.

    The JSON schema shows ``maxLength``, ``minLength`` and ``pattern`` as usual.
    """

    max_length: int
    min_length: int = 0
    multiline: bool = False
    pattern: str | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        compiled = re.compile(self.pattern) if self.pattern else None

        def validate(value: Any) -> Any:
            if not isinstance(value, str):
                return value  # the string schema reports the wrong type
            try:
                return clean(
                    value,
                    multiline=self.multiline,
                    max_length=self.max_length,
                    min_length=self.min_length,
                    pattern=compiled,
                )
            except TextError as exc:
                raise PydanticCustomError(exc.code, exc.message) from None

        # The inner schema carries the limits for the JSON schema (and is strict: a number
        # is not a name); clean() has already checked them on the folded value.
        inner = core_schema.str_schema(
            max_length=self.max_length,
            min_length=self.min_length,
            pattern=self.pattern,
            strict=True,
        )
        return core_schema.no_info_before_validator_function(validate, inner)


def line(max_length: int = LINE_MAX, min_length: int = 0) -> TextRule:
    """A single-line text field: no tab, no line break."""
    return TextRule(max_length, min_length)


def multiline(max_length: int = TEXT_MAX, min_length: int = 0) -> TextRule:
    """A multi-line text field: tab and newline allowed (CR LF folded to LF)."""
    return TextRule(max_length, min_length, multiline=True)


def code(max_length: int = CODE_MAX, min_length: int = 1) -> TextRule:
    """An ASCII code: letters, digits, ``_``, ``.``, ``-``, starting with a letter or digit
    (``min_length=0``: or empty)."""
    body = _CODE.pattern if min_length else f"(?:{_CODE.pattern})?"
    return TextRule(max_length, min_length, pattern=f"^{body}$")


def identifier() -> TextRule:
    """A subject's identifier: USCC or ``PREFIX-local-id`` (the domain checks which)."""
    return TextRule(CODE_MAX, 1, pattern=f"^{_IDENTIFIER.pattern}$")


Line = Annotated[str, line()]
Name = Annotated[str, line(NAME_MAX, min_length=1)]
Text = Annotated[str, multiline()]
Code = Annotated[str, code()]
Identifier = Annotated[str, identifier()]
