"""`calculator`: arithmetic parsed with `ast` and evaluated by walking a whitelist of nodes.

Nothing is ever passed to `eval`. Names are limited to a few constants and math functions,
integers to `MAX_INT_BITS` bits and expressions to `MAX_EXPRESSION_CHARS` characters, so a
request cannot make the server compute for long or allocate much.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from graphchat.agent.tools.base import Tool, ToolContext, ToolError, string_argument

MAX_EXPRESSION_CHARS = 500
MAX_INT_BITS = 4096
MAX_EXPONENT = 10_000

Number = int | float

_CONSTANTS: dict[str, Number] = {"pi": math.pi, "e": math.e, "tau": math.tau}
_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "floor": math.floor,
    "ceil": math.ceil,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Number]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def calculate(expression: str) -> Number:
    """The value of an arithmetic expression, or a `ToolError` saying why there is none."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
        return _checked(_evaluate(tree.body))
    except SyntaxError as exc:
        raise ToolError(f"not an arithmetic expression: {exc.msg}") from exc
    except ZeroDivisionError as exc:
        raise ToolError("division by zero") from exc
    except OverflowError as exc:
        raise ToolError("result too large") from exc
    except (ValueError, TypeError) as exc:
        raise ToolError(f"invalid operation: {exc}") from exc
    except (RecursionError, MemoryError) as exc:
        raise ToolError("expression too deeply nested") from exc


def _evaluate(node: ast.AST) -> Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ToolError(f"unsupported literal {node.value!r}: only numbers are allowed")
        return _checked(node.value)
    if isinstance(node, ast.BinOp):
        return _binary(node)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.Name):
        if node.id not in _CONSTANTS:
            raise ToolError(f"unknown name '{node.id}'; constants: {', '.join(_CONSTANTS)}")
        return _CONSTANTS[node.id]
    if isinstance(node, ast.Call):
        return _call(node)
    raise ToolError(f"unsupported syntax: {type(node).__name__}")


def _binary(node: ast.BinOp) -> Number:
    left, right = _evaluate(node.left), _evaluate(node.right)
    # `^` is power, as on calculators; bitwise operators have no place here.
    if isinstance(node.op, ast.Pow | ast.BitXor):
        return _power(left, right)
    function = _BINARY.get(type(node.op))
    if function is None:
        raise ToolError(f"unsupported operator: {type(node.op).__name__}")
    if isinstance(node.op, ast.Mult) and isinstance(left, int) and isinstance(right, int):
        _check_bits(left.bit_length() + right.bit_length())
    return _checked(function(left, right))


def _power(base: Number, exponent: Number) -> Number:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(f"exponent larger than {MAX_EXPONENT}")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        _check_bits(max(base.bit_length() - 1, 0) * exponent)
    result = base**exponent
    if isinstance(result, complex):
        raise ToolError("the result is not a real number")
    return _checked(result)


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name):
        raise ToolError("only the listed functions can be called, by name")
    if node.func.id not in _FUNCTIONS:
        raise ToolError(f"unknown function '{node.func.id}'; functions: {', '.join(_FUNCTIONS)}")
    if node.keywords:
        raise ToolError("keyword arguments are not supported")
    arguments = [_evaluate(argument) for argument in node.args]
    if not arguments:
        raise ToolError(f"{node.func.id}() needs at least one argument")
    return _checked(_FUNCTIONS[node.func.id](*arguments))


def _check_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise ToolError(f"result too large (more than {MAX_INT_BITS} bits)")


def _checked(value: Number) -> Number:
    if isinstance(value, int):
        _check_bits(value.bit_length())
    elif math.isinf(value) or math.isnan(value):
        raise ToolError("result too large" if math.isinf(value) else "the result is not a number")
    return value


async def _run(arguments: dict[str, Any], context: ToolContext) -> str:
    return str(calculate(string_argument(arguments, "expression")))


CALCULATOR = Tool(
    name="calculator",
    description=(
        "Evaluate an arithmetic expression exactly: + - * / // % ** (or ^), parentheses, "
        "pi, e, tau and sqrt, exp, log, log10, log2, sin, cos, tan, asin, acos, atan, "
        "floor, ceil, abs, round, min, max. Example: (2 + 3) * sqrt(16)."
    ),
    parameters={
        "type": "object",
        "properties": {
            "expression": {"type": "string", "description": "The expression to evaluate."}
        },
        "required": ["expression"],
    },
    run=_run,
)
