"""The subset of AWS IoT SQL (version 2016-03-23) that GridPulse's topic rules use.

The local rules engine (infrastructure/local/iot/rules.py) runs the SQL of every
`AWS::IoT::TopicRule` in template.yaml through this module, so a rule behaves
on a laptop as it does in IoT Core. It is deliberately small; anything outside
the subset raises `IoTSqlError` naming the token, instead of being guessed at.

    rule = parse("SELECT *, topic(2) AS thing_name FROM 'gridpulse/+/telemetry' "
                 "WHERE topic(2) = clientid()")
    rule.topic_filter                                   # 'gridpulse/+/telemetry'
    rule.matches("gridpulse/meter-1/telemetry")         # True
    rule.apply("gridpulse/meter-1/telemetry", b'{"w": 5}', "meter-1", now_ms=0)
    # -> {'w': 5, 'thing_name': 'meter-1'}; None when the topic or WHERE does not match

Supported
---------
* ``SELECT <projection>, ... FROM '<topic filter>' [WHERE <condition>]``;
  keywords and function names are case-insensitive, field names are not.
* Projections: ``*`` (every key of the JSON object payload), a field or dotted
  path (``a.b.c``, named after its last segment), any expression ``AS alias``.
  Projections are applied left to right, so an aliased field replaces a payload
  key of the same name (``SELECT *, topic(2) AS thing_name`` cannot be spoofed
  by a payload that carries its own ``thing_name``). Undefined values are left
  out of the result, as IoT Core does; JSON ``null`` is kept.
* Expressions: fields, literals (integers, decimals, 'strings' with ``''`` for
  a quote, true, false, null), ``=``, ``<>`` (and ``!=`` as a synonym),
  ``<``, ``>``, ``<=``, ``>=``, ``AND``, ``OR``, ``NOT``, parentheses.
* Functions: ``topic()``, ``topic(n)`` (1-based segment, Undefined when out of
  range), ``clientid()`` (whatever the broker passes; IoT Core gives the
  broker's own id for ``$aws/events/...`` messages), ``principal()`` (the
  certificate id of the client that published, as the broker passes it;
  Undefined for messages the broker itself published), ``timestamp()`` (epoch ms
  when the rules engine processes the message; `now_ms` injects it),
  ``newuuid()``, ``isUndefined(x)``, ``isNull(x)``. A function used without
  AS must be given a name (IoT Core would invent one; we refuse to guess).

Semantics, after the operator tables of the IoT SQL reference
-------------------------------------------------------------
* A missing field is Undefined. ``=``/``<>`` compare numbers with numbers,
  strings with strings, booleans, nulls, objects and arrays with their own
  kind; anything else (a missing field, a string against a number) is
  Undefined. ``<``/``>``/``<=``/``>=`` convert both sides to Decimal (numeric
  strings included) and are Undefined when either side does not convert.
* ``AND``/``OR``/``NOT`` take Booleans (or the strings "true"/"false", any
  case); any other operand, Undefined included, makes the result Undefined,
  so ``x OR <comparison with a missing field>`` does not match either.
* WHERE passes only when it evaluates to true; Undefined does not match.
* Whole-number decimals in the payload are Ints (``10.0`` -> ``10``), as in
  SQL version 2016-03-23.
* ``IS NULL`` / ``IS UNDEFINED`` are not IoT SQL: use ``isNull(x)`` /
  ``isUndefined(x)`` (the error message says so).

Payloads that are not a JSON object
-----------------------------------
IoT Core treats them as binary: ``SELECT *`` passes the bytes through and field
references are Undefined. Here the rule still matches on its topic and WHERE,
field references are Undefined, and ``*`` contributes no keys, so
``SELECT *, topic(2) AS thing_name`` yields ``{"thing_name": ...}``. With
``apply(..., raw_payload_key="_raw_payload")`` (what the local rules engine
passes) ``*`` instead contributes the payload text under that key (UTF-8,
undecodable bytes as ``\\xNN``), so code downstream can see and quarantine
malformed messages. That key is a local convention, not IoT Core behaviour.

Topic filters follow MQTT: ``+`` is one whole level, ``#`` the last level (and
matches its parent, ``a/#`` matches ``a``); a filter whose first level is a
wildcard never matches a topic starting with ``$`` (``$aws/...`` lifecycle
events need a filter that starts with ``$aws/``). Validation and matching are
infrastructure/local/iot/topics.py's, the broker's too.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from infrastructure.local.iot.topics import filter_problem, topic_matches

__all__ = [
    "IoTSqlError",
    "Projection",
    "Rule",
    "UNDEFINED",
    "compare",
    "load_payload",
    "parse",
    "validate_topic_filter",
]


class IoTSqlError(ValueError):
    """SQL outside the supported subset, or malformed. `token` is the offending
    text, `position` its offset in the statement (None at the end of input)."""

    def __init__(self, message: str, token: str | None = None, position: int | None = None):
        super().__init__(message)
        self.token = token
        self.position = position


class _Undefined:
    """IoT SQL's Undefined: not a value; dropped from results."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()


# ---------------------------------------------------------------- topic filters


def validate_topic_filter(topic_filter: str) -> None:
    """Raise IoTSqlError unless `topic_filter` is a valid MQTT topic filter."""
    problem = filter_problem(topic_filter)
    if problem is None:
        return
    reason, level = problem
    if not topic_filter:
        raise IoTSqlError("the FROM topic filter is empty", "''")
    raise IoTSqlError(f"topic filter {topic_filter!r}: {reason}", level)


# ---------------------------------------------------------------- tokens

_KEYWORDS = {"SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "TRUE", "FALSE", "NULL"}
# Words that start IoT SQL constructs outside the subset: refused by name.
_UNSUPPORTED_WORDS = {
    "CASE": "CASE expressions",
    "IN": "the IN operator",
    "CONTAINS": "the CONTAINS operator",
    "IS": "IS NULL / IS UNDEFINED (not IoT SQL: use isNull(x) / isUndefined(x))",
    "LIKE": "LIKE",
    "BETWEEN": "BETWEEN",
}
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>'(?:[^']|'')*')
  | (?P<op><>|!=|<=|>=|=|<|>)
  | (?P<punct>[(),.*])
  | (?P<arith>[-+/%])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # keyword, name, number, string, op, punct, arith, end
    text: str
    position: int
    value: Any = None


def _tokenize(sql: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(sql):
        match = _TOKEN.match(sql, position)
        if match is None:
            char = sql[position]
            if char == "'":
                rest = sql[position:]
                raise IoTSqlError(f"unterminated string literal {rest!r} at {position}", rest, position)
            raise IoTSqlError(
                f"not supported by the local IoT SQL engine: the character {char!r} at {position}", char, position
            )
        kind, text = match.lastgroup, match.group()
        if kind == "name" and text.upper() in _KEYWORDS:
            tokens.append(_Token("keyword", text.upper(), position))
        elif kind == "number":
            value = int(text) if re.fullmatch(r"\d+", text) else _whole_to_int(float(text))
            tokens.append(_Token("number", text, position, value))
        elif kind == "string":
            tokens.append(_Token("string", text, position, text[1:-1].replace("''", "'")))
        elif kind != "space":
            tokens.append(_Token(kind, text, position))
        position = match.end()
    tokens.append(_Token("end", "", len(sql)))
    return tokens


# ---------------------------------------------------------------- expressions


@dataclass
class _Context:
    topic: str
    payload: dict | None  # the JSON object payload, None when the payload is not one
    client_id: str
    now_ms: int
    principal: str = ""

    @property
    def segments(self) -> list[str]:
        return self.topic.split("/")


class _Expr:
    def evaluate(self, ctx: _Context) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class _Literal(_Expr):
    value: Any

    def evaluate(self, ctx: _Context) -> Any:
        return self.value


@dataclass(frozen=True)
class _Field(_Expr):
    path: tuple[str, ...]

    def evaluate(self, ctx: _Context) -> Any:
        value: Any = ctx.payload if ctx.payload is not None else UNDEFINED
        for key in self.path:
            if not isinstance(value, dict) or key not in value:
                return UNDEFINED
            value = value[key]
        return value


def _fn_topic(ctx: _Context, *args: Any) -> Any:
    if not args:
        return ctx.topic
    index = _as_int(args[0])
    if index is None or not 1 <= index <= len(ctx.segments):
        return UNDEFINED
    return ctx.segments[index - 1]


# name -> (implementation, allowed argument counts)
_FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[int, ...]]] = {
    "topic": (_fn_topic, (0, 1)),
    "clientid": (lambda ctx: ctx.client_id, (0,)),
    "principal": (lambda ctx: ctx.principal or UNDEFINED, (0,)),
    "timestamp": (lambda ctx: ctx.now_ms, (0,)),
    "newuuid": (lambda ctx: str(uuid.uuid4()), (0,)),
    "isundefined": (lambda ctx, value: value is UNDEFINED, (1,)),
    "isnull": (lambda ctx, value: value is None, (1,)),
}


@dataclass(frozen=True)
class _Call(_Expr):
    name: str  # lower case
    args: tuple[_Expr, ...]

    def evaluate(self, ctx: _Context) -> Any:
        function, _ = _FUNCTIONS[self.name]
        return function(ctx, *(arg.evaluate(ctx) for arg in self.args))


@dataclass(frozen=True)
class _Compare(_Expr):
    op: str
    left: _Expr
    right: _Expr

    def evaluate(self, ctx: _Context) -> Any:
        return compare(self.op, self.left.evaluate(ctx), self.right.evaluate(ctx))


@dataclass(frozen=True)
class _Logical(_Expr):
    op: str  # AND / OR
    left: _Expr
    right: _Expr

    def evaluate(self, ctx: _Context) -> Any:
        left, right = _as_bool(self.left.evaluate(ctx)), _as_bool(self.right.evaluate(ctx))
        if left is UNDEFINED or right is UNDEFINED:
            return UNDEFINED
        return (left and right) if self.op == "AND" else (left or right)


@dataclass(frozen=True)
class _Not(_Expr):
    operand: _Expr

    def evaluate(self, ctx: _Context) -> Any:
        value = _as_bool(self.operand.evaluate(ctx))
        return UNDEFINED if value is UNDEFINED else not value


# ---------------------------------------------------------------- value semantics


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _as_int(value: Any) -> int | None:
    if _is_number(value) and math.isfinite(value) and value == int(value):
        return int(value)
    return None


def _as_bool(value: Any) -> Any:
    """A Boolean operand: a bool or a "true"/"false" string; else Undefined."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return UNDEFINED


def _as_decimal(value: Any) -> Decimal | None:
    try:
        if _is_number(value):
            number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            return None
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _same_kind(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return True
    for kind in (str, bool, dict, list, type(None)):
        if isinstance(left, kind) and isinstance(right, kind):
            return True
    return False


def compare(op: str, left: Any, right: Any) -> Any:
    """Evaluate `left op right` with IoT SQL's typing (see the module docstring)."""
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    if op in ("=", "<>", "!="):
        if not _same_kind(left, right):
            return UNDEFINED
        equal = left == right
        return equal if op == "=" else not equal
    a, b = _as_decimal(left), _as_decimal(right)
    if a is None or b is None:
        return UNDEFINED
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def _whole_to_int(number: float) -> int | float:
    """SQL 2016-03-23 processes whole-number decimals as Ints (10.0 -> 10)."""
    if number.is_integer() and abs(number) < 2**63:
        return int(number)
    return number


def load_payload(payload: bytes | str) -> dict | None:
    """The payload as a JSON object, or None when it is not one."""
    try:
        value = json.loads(payload, parse_float=lambda text: _whole_to_int(float(text)))
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return value if isinstance(value, dict) else None


def _payload_text(payload: bytes | str) -> str:
    return payload if isinstance(payload, str) else payload.decode("utf-8", errors="backslashreplace")


# ---------------------------------------------------------------- the statement


@dataclass(frozen=True)
class Projection:
    """One SELECT item: `*` (expr is None) or an expression and its output name."""

    expr: _Expr | None
    name: str | None


@dataclass(frozen=True)
class Rule:
    """A parsed statement. Build it with `parse()`."""

    sql: str
    projections: tuple[Projection, ...]
    topic_filter: str
    where: _Expr | None

    @property
    def select_all(self) -> bool:
        return any(p.expr is None for p in self.projections)

    def matches(self, topic: str) -> bool:
        return topic_matches(self.topic_filter, topic)

    def apply(
        self,
        topic: str,
        payload: bytes | str,
        client_id: str,
        now_ms: int | None = None,
        raw_payload_key: str | None = None,
        principal: str = "",
    ) -> dict | None:
        """The rule's output for one message, or None when the topic does not
        match the FROM filter or WHERE is not true. `now_ms` is what
        timestamp() returns (default: the current time). With `raw_payload_key`,
        `*` on a payload that is not a JSON object yields its text under that key."""
        if not self.matches(topic):
            return None
        ctx = _Context(
            topic=topic,
            payload=load_payload(payload),
            client_id=client_id,
            now_ms=int(time.time() * 1000) if now_ms is None else int(now_ms),
            principal=principal,
        )
        if self.where is not None and _as_bool(self.where.evaluate(ctx)) is not True:
            return None
        output: dict = {}
        for projection in self.projections:
            if projection.expr is None:
                if ctx.payload is not None:
                    output.update(ctx.payload)
                elif raw_payload_key:
                    output[raw_payload_key] = _payload_text(payload)
                continue
            value = projection.expr.evaluate(ctx)
            if value is not UNDEFINED:
                output[projection.name] = value
        return output


def parse(sql: str) -> Rule:
    """Parse one IoT SQL statement; IoTSqlError for anything outside the subset."""
    return _Parser(sql).statement()


def _unsupported(what: str, token: _Token) -> IoTSqlError:
    return IoTSqlError(
        f"not supported by the local IoT SQL engine: {what}; {token.text!r} at {token.position}",
        token.text,
        token.position,
    )


class _Parser:
    """Recursive descent over:

    statement  := SELECT projection (',' projection)* FROM string [WHERE expr] end
    projection := '*' | expr [AS name]
    expr       := and (OR and)*
    and        := not (AND not)*
    not        := NOT not | comparison
    comparison := operand [('=' | '<>' | '!=' | '<' | '>' | '<=' | '>=') operand]
    operand    := literal | name '(' [expr (',' expr)*] ')' | name ('.' name)* | '(' expr ')'
    literal    := ['-'] number | string | TRUE | FALSE | NULL
    """

    def __init__(self, sql: str):
        self.sql = sql
        self.tokens = _tokenize(sql)
        self.index = 0

    # ------------------------------------------------------------ helpers

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.token
        return token.kind == kind and (text is None or token.text == text)

    def error(self, expected: str, token: _Token | None = None) -> IoTSqlError:
        token = token or self.token
        if token.kind == "end":
            return IoTSqlError(f"expected {expected}, found the end of the statement", None, None)
        word = token.text.upper()
        if token.kind == "name" and word in _UNSUPPORTED_WORDS:
            return _unsupported(_UNSUPPORTED_WORDS[word], token)
        if token.kind == "arith" or (token.kind == "punct" and token.text == "*"):
            return _unsupported("arithmetic", token)
        return IoTSqlError(f"expected {expected}, found {token.text!r} at {token.position}", token.text, token.position)

    def expect(self, kind: str, text: str | None = None, expected: str | None = None) -> _Token:
        if not self.at(kind, text):
            raise self.error(expected or text or kind)
        return self.advance()

    # ------------------------------------------------------------ grammar

    def statement(self) -> Rule:
        self.expect("keyword", "SELECT")
        projections = [self.projection()]
        while self.at("punct", ","):
            self.advance()
            projections.append(self.projection())
        self.expect("keyword", "FROM")
        source = self.expect("string", expected="a quoted topic filter after FROM")
        try:
            validate_topic_filter(source.value)
        except IoTSqlError as exc:
            raise IoTSqlError(str(exc), exc.token, source.position) from None
        where = None
        if self.at("keyword", "WHERE"):
            self.advance()
            where = self.expr()
        if not self.at("end"):
            raise self.error("the end of the statement")
        return Rule(sql=self.sql, projections=tuple(projections), topic_filter=source.value, where=where)

    def projection(self) -> Projection:
        if self.at("punct", "*"):
            self.advance()
            return Projection(None, None)
        start = self.token
        if start.kind == "name" and start.text.upper() == "VALUE" and self.tokens[self.index + 1].kind == "name":
            raise _unsupported("SELECT VALUE", start)
        expr = self.expr()
        if self.at("keyword", "AS"):
            self.advance()
            return Projection(expr, self.expect("name", expected="a name after AS").text)
        if isinstance(expr, _Field):
            return Projection(expr, expr.path[-1])
        text = self.sql[start.position : self.token.position].strip()
        raise IoTSqlError(
            f"{text!r} at {start.position}: name this expression with AS (only fields are named implicitly)",
            text,
            start.position,
        )

    def expr(self) -> _Expr:
        left = self.conjunction()
        while self.at("keyword", "OR"):
            self.advance()
            left = _Logical("OR", left, self.conjunction())
        return left

    def conjunction(self) -> _Expr:
        left = self.negation()
        while self.at("keyword", "AND"):
            self.advance()
            left = _Logical("AND", left, self.negation())
        return left

    def negation(self) -> _Expr:
        if self.at("keyword", "NOT"):
            self.advance()
            return _Not(self.negation())
        return self.comparison()

    def comparison(self) -> _Expr:
        left = self.operand()
        if self.at("op"):
            op = self.advance().text
            return _Compare(op, left, self.operand())
        return left

    def operand(self) -> _Expr:
        token = self.token
        if token.kind in ("number", "string"):
            self.advance()
            return _Literal(token.value)
        if token.kind == "arith" and token.text == "-" and self.tokens[self.index + 1].kind == "number":
            self.advance()
            return _Literal(-self.advance().value)
        if token.kind == "keyword" and token.text in ("TRUE", "FALSE", "NULL"):
            self.advance()
            return _Literal({"TRUE": True, "FALSE": False, "NULL": None}[token.text])
        if self.at("punct", "("):
            self.advance()
            inner = self.expr()
            self.expect("punct", ")")
            return inner
        if token.kind == "name" and token.text.upper() not in _UNSUPPORTED_WORDS:
            self.advance()
            if self.at("punct", "("):
                return self.call(token)
            path = [token.text]
            while self.at("punct", "."):
                self.advance()
                path.append(self.expect("name", expected="a field name after '.'").text)
            return _Field(tuple(path))
        raise self.error("a field, a function call or a literal")

    def call(self, name: _Token) -> _Expr:
        key = name.text.lower()
        if key not in _FUNCTIONS:
            supported = ", ".join(f"{n}()" for n in sorted(_FUNCTIONS))
            raise _unsupported(f"the function {name.text}() (supported: {supported})", name)
        self.expect("punct", "(")
        args: list[_Expr] = []
        if not self.at("punct", ")"):
            args.append(self.expr())
            while self.at("punct", ","):
                self.advance()
                args.append(self.expr())
        self.expect("punct", ")", expected=f"')' closing {name.text}(")
        allowed = _FUNCTIONS[key][1]
        if len(args) not in allowed:
            counts = " or ".join(str(n) for n in allowed)
            raise IoTSqlError(
                f"{name.text!r} at {name.position}: {key}() takes {counts} argument(s), got {len(args)}",
                name.text,
                name.position,
            )
        return _Call(key, tuple(args))
