"""Argument checks that stop a template call from building a huge value before it is built.

Measuring a result after the call is too late for `'a'.center(10**9)` (a gigabyte is allocated
first), so every call that can multiply its input is checked from its arguments:

- str/bytes methods `center`, `ljust`, `rjust`, `zfill` (width), `expandtabs` (tab size and the
  tabs it expands), `replace` (occurrences times the growth), `join` (the sum of the parts),
  `format`/`format_map` (widths and precisions of the format spec), `%` formatting (widths,
  precisions and `*` widths); `translate` and `maketrans` are refused (one character can map
  to any string);
- operators `*` (strings: the result's size; lists: their length; integers: their bits), `+`
  (strings and lists), `**` (exponent and bits);
- filters `center`, `indent`, `wordwrap`, `truncate`, `format`, `replace`, `join`, `batch`,
  `slice`, `sum` (numbers only), `tojson` (indent), and the `lipsum()` global (words);
- the locale filters (core/locality.py): the format of `datetime`, `date` and `time` is text of
  at most `MAX_FORMAT` characters, `number`'s `digits` a whole number from 0 to `MAX_DIGITS`.

Refusals are `BudgetExceeded` (core/render_budget.py) naming the argument and its cap; a locale
filter's argument out of its rule is `FilterArgumentError` naming the filter and the rule (the
template is refused when saved: its test render fails with that reason and line).
"""

from __future__ import annotations

import functools
import inspect
import re
import string
from collections.abc import Callable, Iterable
from typing import Any

from jinja2.exceptions import FilterArgumentError
from jinja2.sandbox import SecurityError
from jinja2.utils import generate_lorem_ipsum

from core import render_budget
from core.render_budget import MAX_WIDTH, BudgetExceeded, check_size, check_width

MAX_ITEMS = 100_000  # length of a list or tuple built by `*` or `+`
MAX_INT_BITS = 16_384  # about 4,900 decimal digits: more than any notification needs
MAX_JSON_INDENT = 16
MAX_LIPSUM_WORDS = 10_000
MAX_FORMAT = 100  # characters of a date or time format (a CLDR pattern or strftime format)
MAX_DIGITS = 10  # decimals `number(digits)` may ask for
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+)?)?")
_DIGITS = re.compile(r"\d+")
_FORMATTER = string.Formatter()
_REFUSED_METHODS = frozenset({"translate", "maketrans"})
_WIDTH_METHODS = {"center": "width", "ljust": "width", "rjust": "width", "zfill": "width"}

Text = str | bytes


def _check_number(name: str, digits: str) -> None:
    # more than five digits is over the cap whatever they say (and int() of thousands of
    # digits is refused by Python itself)
    if len(digits) > 5 or int(digits) > MAX_WIDTH:
        raise BudgetExceeded(f"{name} is at most {MAX_WIDTH}")


def _check_ints(name: str, values: Iterable[Any]) -> None:
    for value in values:
        check_width(name, value)


def check_percent(template: Text, values: Any) -> None:
    """`template % values`: no width or precision above the cap, `*` widths included."""
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    for match in _PERCENT.finditer(text):
        for digits in match.groups():
            if digits == "*":
                items = values if isinstance(values, tuple) else (values,)
                _check_ints("a % format width", items)
            elif digits:
                _check_number("a % format width", digits)


def check_format(template: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """`template.format(...)`: widths and precisions in each spec, nested ones included."""
    for _literal, _field, spec, _conversion in _FORMATTER.parse(template):
        if not spec:
            continue
        for digits in _DIGITS.findall(spec):
            _check_number("a format width", digits)
        if "{" in spec:  # a nested field takes its width from the arguments
            _check_ints("a format width", (*args, *kwargs.values()))


def _replaced_size(text: Text, old: Any, new: Any, count: Any) -> int | None:
    if type(old) is not type(text) or type(new) is not type(text):
        return None  # the method refuses it itself
    found = len(text) + 1 if not old else text.count(old)  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(0, len(new) - len(old))


def _joined_size(separator: Text, items: list[Any]) -> int:
    parts = sum(len(item) for item in items if isinstance(item, str | bytes))
    return parts + len(separator) * max(0, len(items) - 1)


def _materialize(iterable: Any) -> list[Any]:
    budget = render_budget.current()
    return list(budget.loop(iterable) if budget is not None else iterable)


def check_method(
    owner: Text, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Check a call of `owner.name(*args, **kwargs)`; the arguments to call it with."""
    if name in _WIDTH_METHODS:
        width = args[0] if args else kwargs.get(_WIDTH_METHODS[name])
        check_width(f"{name}() width", width)
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        check_width("expandtabs() tab size", size)
        if isinstance(size, int):
            tab = "\t" if isinstance(owner, str) else b"\t"
            check_size(len(owner) + owner.count(tab) * size)  # type: ignore[arg-type]
    elif name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        size = _replaced_size(owner, args[0], args[1], count)
        if size is not None:
            check_size(size)
    elif name == "join" and len(args) == 1:
        items = _materialize(args[0])
        check_size(_joined_size(owner, items))
        return (items,)
    elif name in _REFUSED_METHODS:
        raise SecurityError(f"{name}() is not allowed in a template")
    return args


def _check_items(count: int) -> None:
    if count > MAX_ITEMS:
        raise BudgetExceeded(f"lists of at most {MAX_ITEMS} items")


def _check_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise BudgetExceeded(f"numbers of at most {MAX_INT_BITS} bits")


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Check `left operator right` before Python computes it."""
    both_ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        for value, times in ((left, right), (right, left)):
            if isinstance(value, str | bytes) and isinstance(times, int):
                check_size(len(value) * times)
            elif isinstance(value, list | tuple) and isinstance(times, int):
                _check_items(len(value) * times)
        if both_ints:
            _check_bits(left.bit_length() + right.bit_length())
    elif operator == "+":
        if isinstance(left, str | bytes) and isinstance(right, str | bytes):
            check_size(len(left) + len(right))
        elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
            _check_items(len(left) + len(right))
    elif operator == "**":
        if isinstance(right, int | float) and abs(right) > 64:
            raise SecurityError("exponents above 64 are not allowed")
        if both_ints:
            _check_bits(left.bit_length() * abs(right))
    elif operator == "%" and isinstance(left, str | bytes):
        check_percent(left, right)


# -- filters and globals


def _check_center(a: dict[str, Any]) -> dict[str, Any]:
    check_width("center width", a["width"])
    return a


def _check_indent(a: dict[str, Any]) -> dict[str, Any]:
    width, text = a["width"], a["s"]
    check_width("indent width", width)
    step = len(width) if isinstance(width, str) else width
    if isinstance(text, str) and isinstance(step, int):
        check_size(len(text) + (text.count("\n") + 1) * step)
    return a


def _check_wordwrap(a: dict[str, Any]) -> dict[str, Any]:
    width, text, wrap = a["width"], a["s"], a["wrapstring"]
    check_width("wordwrap width", width)
    if isinstance(text, str) and isinstance(wrap, str) and isinstance(width, int):
        check_size(len(text) + (len(text) // max(width, 1) + 1) * len(wrap))
    return a


def _check_truncate(a: dict[str, Any]) -> dict[str, Any]:
    check_width("truncate length", a["length"])
    check_width("truncate leeway", a["leeway"])
    return a


def _check_format(a: dict[str, Any]) -> dict[str, Any]:
    if isinstance(a["value"], str):
        check_percent(a["value"], a["kwargs"] or tuple(a["args"]))
    return a


def _check_replace(a: dict[str, Any]) -> dict[str, Any]:
    if isinstance(a["s"], str):
        count = a["count"] if a["count"] is not None else -1
        size = _replaced_size(a["s"], str(a["old"]), str(a["new"]), count)
        if size is not None:
            check_size(size)
    return a


def _check_join(a: dict[str, Any]) -> dict[str, Any]:
    a["value"] = _materialize(a["value"])
    if a["attribute"] is None and isinstance(a["d"], str):
        check_size(_joined_size(a["d"], a["value"]))
    return a


def _check_batch(a: dict[str, Any]) -> dict[str, Any]:
    check_width("batch size", a["linecount"])
    return a


def _check_slice(a: dict[str, Any]) -> dict[str, Any]:
    check_width("slice count", a["slices"])
    return a


def _check_sum(a: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(a["start"], int | float):
        raise SecurityError("sum() adds numbers only")
    return a


def _check_tojson(a: dict[str, Any]) -> dict[str, Any]:
    indent = a["indent"]
    if indent is not None and (not isinstance(indent, int) or indent > MAX_JSON_INDENT):
        raise BudgetExceeded(f"tojson indent is at most {MAX_JSON_INDENT}")
    return a


def _check_format_text(filter_name: str) -> Callable[[Any], None]:
    """The format of `datetime`, `date`, `time`: text (a named format, a CLDR pattern, a
    strftime format) of at most `MAX_FORMAT` characters (each letter of a pattern can pad its
    field, and patterns are cached by their text)."""

    def check(fmt: Any) -> None:
        if not isinstance(fmt, str):
            raise FilterArgumentError(
                f'{filter_name}(): the format must be text, e.g. "medium", "d MMM" or '
                f'"%d/%m %H:%M" (got {type(fmt).__name__})'
            )
        if len(fmt) > MAX_FORMAT:
            raise FilterArgumentError(
                f"{filter_name}(): a format is at most {MAX_FORMAT} characters "
                f"(this one has {len(fmt)})"
            )

    return check


def _check_digits(digits: Any) -> None:
    if digits is None:
        return
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= MAX_DIGITS:
        raise FilterArgumentError(
            f"number(): digits is a whole number from 0 to {MAX_DIGITS} (got {digits!r:.20})"
        )


# The locale filters (core/locality.py): one argument each, checked where it is given (by
# position after the value, or by keyword). No signature binding: it would cost more than
# the filter itself, and these run on every date and number of every message.
_ARGUMENT_CHECKS: dict[str, tuple[int, str, Callable[[Any], None]]] = {
    "datetime": (1, "fmt", _check_format_text("datetime")),
    "date": (1, "fmt", _check_format_text("date")),
    "time": (1, "fmt", _check_format_text("time")),
    "number": (1, "digits", _check_digits),
}


_FILTER_CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "center": _check_center,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "truncate": _check_truncate,
    "format": _check_format,
    "replace": _check_replace,
    "join": _check_join,
    "batch": _check_batch,
    "slice": _check_slice,
    "sum": _check_sum,
    "tojson": _check_tojson,
}


def _counted(result: Any) -> Any:
    budget = render_budget.current()
    if budget is not None and isinstance(result, str | bytes | list | tuple):
        budget.produce(len(result))
    return result


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` with its arguments checked (when it has a check) and its result counted."""
    argument = _ARGUMENT_CHECKS.get(name)
    if argument is not None:
        return _guard_argument(func, *argument)
    check = _FILTER_CHECKS.get(name)
    if check is None:

        @functools.wraps(func)  # keeps jinja's pass_context / pass_environment marker
        def counted(*args: Any, **kwargs: Any) -> Any:
            return _counted(func(*args, **kwargs))

        return counted
    signature = inspect.signature(func)

    # Jinja's sync/async filters (slice, batch, ...) are called with an evaluation context
    # first that the function they wrap (whose signature this is) does not take.
    skip = int(
        hasattr(func, "jinja_pass_arg") and not hasattr(inspect.unwrap(func), "jinja_pass_arg")
    )

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args[skip:], **kwargs)
        except TypeError:
            return func(*args, **kwargs)  # the filter says what is wrong with its arguments
        bound.apply_defaults()
        bound.arguments.update(check(dict(bound.arguments)))
        return _counted(func(*args[:skip], *bound.args, **bound.kwargs))

    return checked


def _guard_argument(
    func: Callable[..., Any], position: int, keyword: str, check: Callable[[Any], None]
) -> Callable[..., Any]:
    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if len(args) > position:
            check(args[position])
        elif keyword in kwargs:
            check(kwargs[keyword])
        return _counted(func(*args, **kwargs))

    return checked


def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """`lipsum()` with at most `MAX_LIPSUM_WORDS` words."""
    for name, value in (("n", n), ("min", min), ("max", max)):
        if not isinstance(value, int):
            raise TypeError(f"lipsum() {name} must be a whole number")
    if n * (max if max > min else min) > MAX_LIPSUM_WORDS:
        raise BudgetExceeded(f"lipsum() is at most {MAX_LIPSUM_WORDS} words")
    return _counted(generate_lorem_ipsum(n=n, html=html, min=min, max=max))
