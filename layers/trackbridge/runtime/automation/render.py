"""Rendering rules and templates in a hardened Jinja2 sandbox, and redacting what goes to a tracker.

The environment is a :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with limits added:

* attribute walking: a name starting with ``_`` (``__class__``, ``__globals__``...) or one of the sandbox's
  unsafe names raises :class:`~jinja2.sandbox.SecurityError` instead of rendering as empty, and
  :func:`check_source` refuses such templates when they are saved, with the line;
* globals are only ``range`` (at most :data:`MAX_RANGE` items), ``dict`` and ``namespace``: no ``cycler``,
  ``joiner`` or ``lipsum``;
* every ``{% for %}`` loop draws from one budget per render (:data:`MAX_LOOP_ITERATIONS` iterations in all,
  nested loops included), the output stops at ``max_output`` characters, ``*``, ``**``, ``%``, ``+``, ``~``,
  ``join`` and ``replace`` (filters and string methods) refuse results that would be huge, and
  ``str.format`` / width- and count-taking filters are bounded: a template cannot spin or allocate its way
  out of a Lambda's memory;
* event data is only ever a value, never a template: ``{{ event.data.x }}`` prints ``x`` as written.

Redaction (:class:`Redactor`) replaces values that look like secrets or personal data (AWS keys, passwords,
tokens, connection-string credentials, private keys, emails, and configured patterns) with ``(redacted)``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined, meta, nodes, pass_eval_context
from jinja2.filters import do_join, do_replace
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from trackbridge.domain.errors import ValidationFailed

MAX_RANGE: Final = 1_000
MAX_LOOP_ITERATIONS: Final = 10_000
MAX_TITLE_CHARS: Final = 250
MAX_BODY_CHARS: Final = 60_000
MAX_STRING_RESULT: Final = 100_000
MAX_EXPONENT: Final = 64
REDACTED: Final = "(redacted)"  # no Markdown meaning on any tracker (Jira escapes brackets)
_LOOP_GUARD: Final = "tb_loop_guard"
_CONCAT_GUARD: Final = "tb_concat_guard"
_UNSAFE_NAMES: Final = frozenset(
    {
        "mro",
        "func_globals",
        "func_code",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "format",
        "format_map",
    }
)


class RenderLimitExceeded(SecurityError):
    """A template went over one of the render limits (loops, output size, a huge value)."""


class TemplateRefused(ValidationFailed):
    """A template or condition refused on save (422): syntax, an unknown variable or a sandbox violation."""

    def __init__(self, field: str, message: str, *, line: int | None = None) -> None:
        where = f" (line {line})" if line else ""
        super().__init__(
            f"{field}: {message}{where}",
            details={"errors": [{"path": field, "message": message, "line": line}]},
        )


class _Budget(threading.local):
    remaining: int = MAX_LOOP_ITERATIONS


_budget = _Budget()


def _loop_guard(iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _budget.remaining -= 1
        if _budget.remaining < 0:
            raise RenderLimitExceeded(f"the template loops more than {MAX_LOOP_ITERATIONS} times")
        yield item


class _StrictAttributesUndefined(ChainableUndefined):
    """Missing data renders as empty, however deep (an alarm without datapoints must still become an
    issue); protected attributes still raise (``unsafe_undefined``)."""

    __slots__ = ()


def _bounded_range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise RenderLimitExceeded(f"range() is limited to {MAX_RANGE} items")
    return values


def _bounded_width(value: Any, width: Any) -> None:
    if isinstance(width, int) and width > MAX_STRING_RESULT:
        raise RenderLimitExceeded("a width over the output limit")


_HUGE_FORMAT = re.compile(r"%[-+ #0]*(\*|\d{5,})")


class HardenedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, undefined=_StrictAttributesUndefined, keep_trailing_newline=True)
        self.globals.clear()
        self.globals.update({"range": _bounded_range, "dict": dict, _LOOP_GUARD: _loop_guard})
        self.globals[_CONCAT_GUARD] = _bounded_concat
        # batch and slice take a count they fill up to: the same bound as a width.
        for name in ("center", "indent", "wordwrap", "truncate", "batch", "slice"):
            original = self.filters[name]
            self.filters[name] = _width_checked(original)
        self.filters["join"] = _bounded_join_filter
        self.filters["replace"] = _bounded_replace_filter
        self.filters.pop("format", None)  # printf formatting with a data-chosen width: see call_binop

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_") or attr in _UNSAFE_NAMES:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} is not allowed")

    def wrap_str_format(self, value: Any) -> None:
        # Not wrapped: ``format`` and ``format_map`` are unsafe names here (a width from the data could
        # allocate gigabytes); templates join with ``~``.
        return None

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise RenderLimitExceeded(f"exponents are limited to {MAX_EXPONENT}")
        elif operator == "*":
            for sized, times in ((left, right), (right, left)):
                if (
                    isinstance(sized, (str, list, tuple))
                    and isinstance(times, int)
                    and len(sized) * times > MAX_STRING_RESULT
                ):
                    raise RenderLimitExceeded("a repeated value over the output limit")
        elif operator == "%":
            if isinstance(left, str) and _HUGE_FORMAT.search(left):
                raise RenderLimitExceeded("printf widths are limited")
        elif (
            operator == "+"
            and isinstance(left, (str, list))
            and isinstance(right, (str, list))
            and len(left) + len(right) > MAX_STRING_RESULT
        ):
            raise RenderLimitExceeded("a joined value over the output limit")
        return super().call_binop(context, operator, left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        # A string's own methods can multiply it as its filters can ('x'.replace('', big), sep.join(...)).
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str):
            args = _bounded_str_call(owner, getattr(obj, "__name__", ""), args)
        return super().call(context, obj, *args, **kwargs)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.Name(_LOOP_GUARD, "load"), [loop.iter], [], None, None)
        # ``a ~ b`` compiles to a join the environment cannot intercept: route it through a bounded one, or
        # twenty ``{% set s = s ~ s %}`` would double a string into gigabytes.
        for concat in list(tree.find_all(nodes.Concat)):
            guarded = nodes.Call(nodes.Name(_CONCAT_GUARD, "load"), list(concat.nodes), [], None, None)
            concat.nodes = [guarded]
        return tree


def _check_size(size: int, what: str) -> None:
    if size > MAX_STRING_RESULT:
        raise RenderLimitExceeded(f"{what} over the output limit")


def _bounded_concat(*parts: Any) -> str:
    texts = [str(part) for part in parts]
    _check_size(sum(map(len, texts)), "a concatenated value")
    return "".join(texts)


def _joined_items(items: Any, separator: Any) -> Any:
    """``items`` made a sequence (a generator is read once here), after checking what joining them makes."""
    if not isinstance(items, (str, list, tuple)):
        items = list(_loop_guard(items))
    texts = sum(len(item) for item in items if isinstance(item, str))
    _check_size(texts + len(str(separator)) * max(len(items) - 1, 0), "a joined value")
    return items


def _replaced_size(text: str, old: str, new: str, count: Any = None) -> int:
    hits = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


@pass_eval_context
def _bounded_join_filter(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    if attribute is None:
        value = _joined_items(value, d)
    return str(do_join(eval_ctx, value, d, attribute))


@pass_eval_context
def _bounded_replace_filter(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> str:
    _check_size(_replaced_size(str(s), str(old), str(new), count), "a replaced value")
    return str(do_replace(eval_ctx, s, old, new, count))


def _bounded_str_call(text: str, method: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The arguments of ``text.<method>(*args)``, checked first for the methods that can grow a string."""
    if method == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        _check_size(
            _replaced_size(text, args[0], args[1], args[2] if len(args) > 2 else None), "a replaced value"
        )
    elif method == "join" and args:
        args = (_joined_items(args[0], text), *args[1:])
    elif method in ("ljust", "rjust", "center", "zfill") and args:
        _bounded_width(text, args[0])
    elif method == "expandtabs":
        size = args[0] if args and isinstance(args[0], int) else 8
        _check_size(len(text) * max(size, 1), "an expanded value")
    return args


def _width_checked(original: Any) -> Any:
    def checked(value: Any, width: Any = 80, *args: Any, **kwargs: Any) -> Any:
        _bounded_width(value, width)
        return original(value, width, *args, **kwargs)

    return checked


@lru_cache(maxsize=1)
def sandbox() -> HardenedSandbox:
    return HardenedSandbox()


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    return sandbox().from_string(source)


@lru_cache(maxsize=256)
def _expression(source: str) -> Any:
    return sandbox().compile_expression(source)


def render(source: str, context: Mapping[str, Any], *, max_output: int = MAX_BODY_CHARS) -> str:
    """``source`` rendered over ``context`` within the limits; raises ``SecurityError`` (a subclass for
    limits) or a Jinja error when the template cannot render."""
    template = _compiled(source)
    _budget.remaining = MAX_LOOP_ITERATIONS
    parts: list[str] = []
    size = 0
    for chunk in template.generate(dict(context)):
        size += len(chunk)
        if size > max_output:
            parts.append(chunk[: max(0, max_output - (size - len(chunk)))])
            break
        parts.append(chunk)
    return "".join(parts)


def evaluate(condition: str, context: Mapping[str, Any]) -> bool:
    """A rule's condition (a Jinja2 expression) over ``context``: truthy or not."""
    _budget.remaining = MAX_LOOP_ITERATIONS
    return bool(_expression(condition)(**context))


# ---- checks on save ----------------------------------------------------------------------------------------
def _violations(tree: nodes.Template) -> Iterator[tuple[str, int]]:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = str(node.arg.value)
        elif isinstance(node, nodes.Name):
            name = node.name
        else:
            continue
        if name.startswith("_") or name in _UNSAFE_NAMES:
            yield name, node.lineno


def check_source(
    field: str, source: str, *, allowed: Iterable[str], expression: bool = False
) -> nodes.Template:
    """Refuse (:class:`TemplateRefused`, 422 with the line) a template or expression that does not parse,
    names a variable outside ``allowed``, or reaches for a protected attribute."""
    env = sandbox()
    text = f"{{{{ {source} }}}}" if expression else source
    try:
        tree = env.parse(text)
        if expression:
            env.compile_expression(source)
    except TemplateSyntaxError as exc:
        raise TemplateRefused(field, f"syntax error: {exc.message}", line=exc.lineno) from None
    for name, line in _violations(tree):
        raise TemplateRefused(field, f"{name!r} is not allowed in the sandbox", line=line)
    known = set(allowed) | set(env.globals)
    for name in sorted(meta.find_undeclared_variables(tree) - known):
        where: int | None = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), None)
        raise TemplateRefused(
            field, f"unknown variable {name!r} (known: {', '.join(sorted(allowed))})", line=where
        )
    return tree


# ---- redaction ---------------------------------------------------------------------------------------------
_BUILTIN_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    (
        "private_key",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
    ),
    ("aws_access_key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
    ("aws_secret", r"(?i)(?<=aws_secret_access_key)(\s*[=:]\s*)[A-Za-z0-9/+=]{40}"),
    ("connection_string", r"(?i)(?<=://)[^/\s:@]+:[^@\s/]+(?=@)"),
    ("bearer", r"(?i)(?<=bearer )[A-Za-z0-9._~+/-]{8,}=*"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
    ("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    ("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("trackbridge_key", r"\btb_[a-z2-7]{8,}_[A-Za-z0-9_-]{16,}"),
    (
        "assignment",
        r"(?i)(?<![A-Za-z0-9])((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
        r"client[_-]?secret|auth)[\"']?\s*[=:]\s*[\"']?)[^\s\"',;&]{3,}",
    ),
    ("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
)


@dataclass(frozen=True)
class Redactor:
    """Replaces what looks like a secret or personal data; ``extra`` adds regular expressions."""

    extra: Sequence[str] = ()

    @property
    def patterns(self) -> list[re.Pattern[str]]:
        return _patterns(tuple(self.extra))

    def __call__(self, text: str) -> str:
        for pattern in self.patterns:
            if pattern.groups:
                text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
            else:
                text = pattern.sub(REDACTED, text)
        return text


@lru_cache(maxsize=16)
def _patterns(extra: tuple[str, ...]) -> list[re.Pattern[str]]:
    return [re.compile(p) for _, p in _BUILTIN_PATTERNS] + [re.compile(p) for p in extra]


__all__ = [
    "MAX_BODY_CHARS",
    "MAX_LOOP_ITERATIONS",
    "MAX_RANGE",
    "MAX_TITLE_CHARS",
    "REDACTED",
    "HardenedSandbox",
    "Redactor",
    "RenderLimitExceeded",
    "SecurityError",
    "TemplateRefused",
    "check_source",
    "evaluate",
    "render",
    "sandbox",
]
