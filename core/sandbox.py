"""The Jinja sandbox every mailbell template runs in, charging each render's budget.

`BudgetSandbox` is an `ImmutableSandboxedEnvironment` whose hooks charge the render's budget
(core/render_budget.py) and check arguments before values are built (core/render_guards.py):

- `call` (every call a template makes), `getattr`/`getitem` (every lookup) and `call_binop`
  (`+`, `*`, `**` and `%` are intercepted) tick the step counter and the clock;
- its code generator wraps every `for` loop's iterable in a counting generator and every `~`
  concatenation in a size check, so loops and string growth are charged without a call;
- every filter is wrapped (argument checks, result counted); `lipsum()` is bounded;
- its templates' `render()` runs within a fresh budget and caps the output as it is produced.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jinja2 import Template, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core import render_budget, render_guards


class BudgetTemplate(Template):
    def render(self, *args: Any, **kwargs: Any) -> str:
        return render_budget.run(self, dict(*args, **kwargs))


class BudgetCodeGenerator(CodeGenerator):
    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("budget_loop"), [node.iter], [], None, None,
            lineno=node.iter.lineno,
        )  # fmt: skip
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.budget_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


def _charge(result: Any) -> Any:
    budget = render_budget.current()
    if budget is not None:
        budget.tick()
        if isinstance(result, str | bytes):
            budget.produce(len(result))
    return result


class BudgetSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with every loop, call, lookup, operator and filter on the render budget."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = BudgetCodeGenerator
    template_class = BudgetTemplate

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {
            name: render_guards.guard_filter(name, func) for name, func in self.filters.items()
        }
        self.globals["lipsum"] = render_guards.lipsum

    def budget_loop(self, iterable: Iterable[Any]) -> Iterable[Any]:
        budget = render_budget.current()
        return iterable if budget is None else budget.loop(iterable)

    def budget_concat(self, value: str) -> str:
        return _charge(value)  # Markup stays Markup

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        render_guards.check_binop(operator, left, right)
        return _charge(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes):
            args = render_guards.check_method(owner, __obj.__name__, args, kwargs)
        return _charge(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Any:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        template = value.__self__

        def checked(*args: Any, **kwargs: Any) -> Any:
            if value.__name__ == "format":
                render_guards.check_format(template, args, kwargs)
            else:  # format_map(mapping)
                mapping = args[0] if args else {}
                values = mapping.values() if hasattr(mapping, "values") else ()
                render_guards.check_format(template, tuple(values), {})
            return wrapper(*args, **kwargs)

        return checked

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget = render_budget.current()
        if budget is not None:
            budget.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget = render_budget.current()
        if budget is not None:
            budget.tick()
        return super().getitem(obj, argument)
