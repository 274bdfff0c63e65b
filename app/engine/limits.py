"""What one template render may build, checked before it is built.

A template is a few characters, but `'a' * 10**9`, `9**9**9`, `'x'.center(10**9)` or a joiner of a
megabyte repeated a million times would each take the server's memory or minutes of its CPU. The
sandbox (`app.engine.sandbox`) asks these functions before every operation that can make a value much
larger than its operands; each estimates the result's size from the operands alone and raises
`TemplateLimit` saying which limit it breaks. `checked` looks at a result afterwards.

Sizes are counted in characters for text, in items for lists and dicts, in digits for integers.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.utils import Namespace

__all__ = [
    "MAX_INT_DIGITS",
    "MAX_OUTPUT",
    "MAX_RANGE",
    "MAX_SIZE",
    "TemplateLimit",
    "TemplateStopped",
    "check_call",
    "check_filter",
    "check_operator",
    "check_text",
    "checked",
    "repeated_size",
    "size",
    "text_size",
]

MAX_SIZE = 1_000_000
"""Characters of one string, items of one list or dict."""
MAX_OUTPUT = 1_000_000
"""Characters one render (or one macro, `set` or `filter` block in it) writes."""
MAX_INT_DIGITS = 4_300
"""Digits of one integer: Python's own limit for turning an integer into text."""
MAX_RANGE = 10_000
"""Numbers one `range()` gives."""
MAX_JSON_INDENT = 16

_LONG_TEXT = 256
_MAX_INT_BITS = int(MAX_INT_DIGITS * 3.3219280948873626)  # log2(10)
_SIZED = (str, bytes, list, tuple, dict, set, frozenset, range)


class TemplateLimit(SecurityError):
    """A template asked for more than one render may use (a value too large, too much work)."""


class TemplateStopped(TemplateLimit):
    """A render was stopped: it spent its budget of work or ran out of time."""


def size(value: Any) -> int:
    """Characters or items of a value that has them, else 0 (never calls anything of the template's)."""
    return len(value) if isinstance(value, _SIZED) else 0


def text_size(value: Any, limit: int = MAX_SIZE) -> int:
    """About how many characters ``str(value)`` has, counted only until it passes `limit`.

    A list holding the same megabyte a million times is small, and its text is a terabyte: this walks
    what the text would show, stopping as soon as the count is over the limit.
    """
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 1
        elif isinstance(item, Namespace | Mapping | list | tuple | set | frozenset):
            children = _children(item)
            total += 2 + 2 * len(children)
            if total <= limit:
                stack.extend(children)
        else:
            total += 4
    return total


def repeated_size(value: Any, limit: int = MAX_OUTPUT) -> int:
    """Characters that repeats add to the text of `value`: the text of every collection, and every long text,
    that it holds more than once (counted until it passes `limit`).

    A template can build a list that holds one megabyte a million times in a few operations (a literal of
    ten references, a literal of ten of those…); what it holds once is bounded by the work it did.
    """
    seen: set[int] = set()
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            if len(item) >= _LONG_TEXT:
                total += len(item) if id(item) in seen else 0
                seen.add(id(item))
        elif isinstance(item, Namespace | Mapping | list | tuple | set | frozenset):
            if id(item) in seen:
                total += text_size(item, limit - total)
            else:
                seen.add(id(item))
                stack.extend(_children(item))
    return total


def _children(item: Any) -> list[Any]:
    if isinstance(item, Namespace):
        item = object.__getattribute__(item, "_Namespace__attrs")
    if isinstance(item, Mapping):
        return [*item.keys(), *item.values()]
    return list(item)


def checked(value: Any) -> Any:
    """`value`, unless it is an integer, text or collection over the limits."""
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise TemplateLimit(f"a number over {MAX_INT_DIGITS:,} digits is not allowed in a template")
    elif isinstance(value, _SIZED) and len(value) > MAX_SIZE:
        raise _too_large(len(value))
    return value


def _too_large(estimate: int) -> TemplateLimit:
    return TemplateLimit(f"the result would have {estimate:,} characters or items; the limit is {MAX_SIZE:,}")


def _at_most(estimate: int, limit: int = MAX_SIZE) -> None:
    if estimate > limit:
        raise _too_large(estimate)


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or value.bit_length() < 64 else f"<{value.bit_length()}-bit>"
    return text if len(text) <= 24 else text[:20] + "…"


# --- operators -------------------------------------------------------------------------------------------------


def check_operator(operator: str, left: Any, right: Any) -> None:
    """Refuse `left <operator> right` when its result would break a limit."""
    if operator == "**":
        _check_power(left, right)
    elif operator == "*":
        _check_product(left, right)
    elif operator == "+" and isinstance(left, _SIZED) and isinstance(right, _SIZED):
        _at_most(len(left) + len(right))
    elif operator == "%" and isinstance(left, str | bytes):
        _check_printf(left, right)


def _check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0 or abs(base) <= 1:
        return
    if exponent > _MAX_INT_BITS or exponent * (abs(base).bit_length() - 1) > _MAX_INT_BITS:
        raise TemplateLimit(
            f"{_short(base)} ** {_short(exponent)} is too large: numbers in a template have at most "
            f"{MAX_INT_DIGITS:,} digits"
        )


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, _SIZED):
        left, right = right, left
    if not isinstance(right, int) or isinstance(right, bool):
        return
    if isinstance(left, str | bytes | list | tuple):
        if right > 1 and len(left) * right > MAX_SIZE:
            raise _too_large(len(left) * right)
        if right > 1 and not isinstance(left, str | bytes):
            _at_most(text_size(left, MAX_SIZE // right + 1) * right, MAX_SIZE)
    elif isinstance(left, int) and left.bit_length() + right.bit_length() > _MAX_INT_BITS + 1:
        raise TemplateLimit(f"a number over {MAX_INT_DIGITS:,} digits is not allowed in a template")


_PRINTF = re.compile(r"%(?:\(([^)]*)\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def _check_printf(fmt: str | bytes, args: Any) -> None:
    """``fmt % args``: refuse wide fields and conversions that repeat large values."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    values = list(args) if isinstance(args, tuple) else [args]
    estimate, index = len(text), 0
    for match in _PRINTF.finditer(text):
        key, width, precision, conversion = match.groups()
        if conversion == "%":
            continue
        for number in (width, precision):
            if number == "*":
                star = values[index] if index < len(values) else 0
                index += 1
                _check_width(star)
            elif number:
                _check_width(int(number))
        if key is not None and isinstance(args, Mapping):
            value = args.get(key)
        else:
            value = values[index] if index < len(values) else None
            index += 1
        estimate += max(text_size(value, MAX_SIZE), int(width) if width and width.isdigit() else 0)
        _at_most(estimate)


def _check_width(width: Any) -> None:
    if isinstance(width, int) and width > MAX_SIZE:
        raise TemplateLimit(f"a width of {width:,} is too large; the limit is {MAX_SIZE:,} characters")


# --- methods of the template's values ------------------------------------------------------------------------

_PADDING = frozenset({"center", "ljust", "rjust", "zfill"})


def check_call(function: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse calls of text methods whose result would break a limit (`'x'.center(10**9)`).

    Returns the arguments to call with: the items of a join, read once, so that they could be measured.
    """
    name = getattr(function, "__name__", "")
    owner = getattr(function, "__self__", None)
    if name in ("format", "format_map") and owner is None:  # the sandbox's wrapper of str.format
        owner = getattr(getattr(function, "__wrapped__", None), "__self__", None)
    if isinstance(owner, str | bytes):
        if name == "join" and args:
            args = (_materialized(args[0]), *args[1:])
        _check_text_method(owner, name, args, kwargs)
    elif isinstance(owner, int) and name == "to_bytes":
        _check_width(args[0] if args else kwargs.get("length", 1))
    return args


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _check_text_method(text: str | bytes, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if name in _PADDING:
        _check_width(_arg(args, kwargs, 0, "width", 0))
    elif name == "expandtabs":
        tabsize = _arg(args, kwargs, 0, "tabsize", 8)
        tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
        _at_most(len(text) + tabs * tabsize if isinstance(tabsize, int) else 0)
    elif name == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1], _arg(args, kwargs, 2, "count", -1))
    elif name == "join" and args:
        _check_join(text, args[0])
    elif name == "translate" and isinstance(args[0] if args else None, Mapping):
        longest = max((size(v) for v in args[0].values()), default=1)
        _at_most(len(text) * max(longest, 1))
    elif name in ("format", "format_map") and isinstance(text, str):
        values = args[0] if name == "format_map" and args else kwargs
        _check_format(text, args if name == "format" else (), values if isinstance(values, Mapping) else {})


def _check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    if not (isinstance(old, type(text)) and isinstance(new, type(text))) or len(new) <= len(old):
        return
    found = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _at_most(len(text) + found * (len(new) - len(old)))


def _check_join(separator: Any, items: Any, *, whole_items: bool = True) -> None:
    """A join's text: the separator between every two items, and the items' own text (unless only an
    attribute of each is joined, which the result's own check covers)."""
    if isinstance(items, list | tuple) and len(items) > 1:
        between = size(separator) * (len(items) - 1)
        _at_most(between + (text_size(items, MAX_SIZE) - 2 * len(items) if whole_items else 0))


def _check_format(text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """``text.format(*args, **kwargs)``: refuse wide fields and fields that repeat large values."""
    estimate, auto = len(text), 0
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # the call itself says what is wrong
    for _literal, field, spec, _conversion in fields:
        if field is None:
            continue
        if "{" in (spec or ""):
            for value in (*args, *kwargs.values()):
                _check_width(value)
        for number in re.findall(r"\d+", spec or ""):
            _check_width(int(number))
        head = re.split(r"[.\[]", field, maxsplit=1)[0]
        if head == "":
            value, auto = (args[auto] if auto < len(args) else None), auto + 1
        elif head.isdigit():
            value = args[int(head)] if int(head) < len(args) else None
        else:
            value = kwargs.get(head)
        estimate += text_size(value, MAX_SIZE)  # of all of it, also when the field shows a part
        _at_most(estimate)


# --- filters -----------------------------------------------------------------------------------------------------

TEXT_FILTERS = frozenset(
    {
        "capitalize",
        "center",
        "e",
        "escape",
        "forceescape",
        "format",
        "indent",
        "lower",
        "pprint",
        "replace",
        "safe",
        "string",
        "striptags",
        "title",
        "tojson",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "urlize",
        "wordcount",
        "wordwrap",
        "xmlattr",
    }
)
"""Filters that turn their value into text (`str(value)`): the text must fit the limit."""


def check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """Refuse `value|name(*args, **kwargs)` when its result would break a limit.

    Returns the value to filter: the items of a join, read once, so that they could be measured.
    """
    if name in ("join", "sum"):
        value = _materialized(value)
    if name in TEXT_FILTERS and not isinstance(value, str):
        check_text(value)
    check = _FILTER_CHECKS.get(name)
    if check is not None:
        check(value, args, kwargs)
    return value


def check_text(value: Any, limit: int = MAX_SIZE) -> None:
    """Refuse to turn `value` into text when the text would be longer than `limit`."""
    _at_most(text_size(value, limit), limit)


def _filter_center(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    _check_width(_arg(args, kwargs, 0, "width", 80))


def _filter_indent(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    width = _arg(args, kwargs, 0, "width", 4)
    each = width if isinstance(width, int) else size(width)
    _check_width(each)
    lines = value.count("\n") + 1 if isinstance(value, str) else 1
    _at_most(size(value) + lines * each)


def _filter_format(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if isinstance(value, str):
        _check_printf(value, dict(kwargs) if kwargs else tuple(args))


def _filter_replace(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if isinstance(value, str) and len(args) >= 2:
        _check_replace(value, str(args[0]), str(args[1]), _arg(args, kwargs, 2, "count", -1))


def _filter_join(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    _check_join(_arg(args, kwargs, 0, "d", ""), value, whole_items=_arg(args, kwargs, 1, "attribute") is None)


def _filter_batch(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    _check_width(_arg(args, kwargs, 0, "linecount", 1))


def _filter_slice(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    _check_width(_arg(args, kwargs, 0, "slices", 1))


def _filter_wordwrap(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    width = _arg(args, kwargs, 0, "width", 79)
    wrapstring = _arg(args, kwargs, 2, "wrapstring", None)
    if isinstance(value, str) and isinstance(wrapstring, str) and isinstance(width, int):
        lines = len(value) // max(width, 1) + value.count("\n") + 1
        _at_most(len(value) + lines * len(wrapstring))


def _filter_urlize(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if isinstance(value, str):
        extra = sum(size(kwargs.get(name)) for name in ("target", "rel")) + size(_arg(args, kwargs, 2, "target"))
        _at_most(len(value) + (value.count(" ") + value.count("\n") + 1) * (extra + 40))


def _filter_tojson(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    indent = _arg(args, kwargs, 0, "indent", None)
    if isinstance(indent, int) and indent > MAX_JSON_INDENT:
        raise TemplateLimit(f"tojson indents by at most {MAX_JSON_INDENT} spaces in a template")
    if isinstance(indent, str) and len(indent) > MAX_JSON_INDENT:
        raise TemplateLimit(f"tojson indents by at most {MAX_JSON_INDENT} characters in a template")


def _filter_round(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    precision = _arg(args, kwargs, 0, "precision", 0)
    if isinstance(precision, int) and abs(precision) > MAX_INT_DIGITS:
        raise TemplateLimit(f"round() takes a precision of at most {MAX_INT_DIGITS:,} digits in a template")


def _filter_sum(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Summing lists or texts copies the growing result once per item: its size times the count is the work."""
    start = _arg(args, kwargs, 1, "start", 0)
    if isinstance(start, _SIZED) and isinstance(value, list | tuple):
        total = size(start) + sum(size(item) for item in value)
        _at_most(total)
        _at_most(total * len(value), MAX_SIZE * 10)


_FILTER_CHECKS = {
    "center": _filter_center,
    "indent": _filter_indent,
    "format": _filter_format,
    "replace": _filter_replace,
    "join": _filter_join,
    "batch": _filter_batch,
    "slice": _filter_slice,
    "wordwrap": _filter_wordwrap,
    "urlize": _filter_urlize,
    "tojson": _filter_tojson,
    "round": _filter_round,
    "sum": _filter_sum,
}


def _materialized(items: Any) -> Any:
    """The items of a join as a list (a generator is read once here), so that they can be measured first."""
    if isinstance(items, Iterable) and not isinstance(items, list | tuple):
        return list(items)
    return items
