"""The worst templates of the security review, and ours: each must be refused at save.

Each entry is (field, source, what the refusal says). `BUDGET` refusals name the render budget;
`SANDBOX` ones are refused by the sandbox's rules (a call that is not allowed at all).
"""

from __future__ import annotations

BUDGET = "template exceeds the render budget"
SANDBOX = "not allowed in a template"

NS = "{% set ns = namespace(s='a') %}"
LOOP40 = "{% for i in range(40) %}"

WORST_TEMPLATES: list[tuple[str, str, str]] = [
    # a short template asking for huge output or work
    ("body", "{{ lipsum(10**5) }}", BUDGET),
    ("body", "{{ 'a'.center(10**9) }}", BUDGET),
    ("body", "{{ '{:>1000000000}'.format('a') }}", BUDGET),
    ("body", "{{ 'a'|indent(10**9) }}", BUDGET),
    (
        "body",
        "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}",
        BUDGET,
    ),
    ("body", NS + LOOP40 + "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}", BUDGET),
    ("body", "{{ 'a'.center(10**7) }}", BUDGET),
    # widths of the other str methods and filters
    ("body", "{{ 'a'.ljust(10**9) }}", BUDGET),
    ("body", "{{ 'a'.rjust(10**9) }}", BUDGET),
    ("body", "{{ 'a'.zfill(10**9) }}", BUDGET),
    ("body", "{{ 'a\tb'.expandtabs(10**9) }}", BUDGET),
    ("body", "{{ '%1000000000s' % 'a' }}", BUDGET),
    ("body", "{{ '%*s' % (1000000000, 'a') }}", BUDGET),
    ("body", "{{ '%1000000000s'|format('a') }}", BUDGET),
    ("body", "{{ '{:{}}'.format('a', 10**9) }}", BUDGET),
    ("body", "{{ '{0:.1000000000f}'.format(1.5) }}", BUDGET),
    ("body", "{{ '{a:>{w}}'.format_map({'a': 'x', 'w': 10**9}) }}", BUDGET),
    ("body", "{{ 'a'|wordwrap(10**9) }}", BUDGET),
    ("body", "{{ 'a'|truncate(10**9) }}", BUDGET),
    ("body", "{{ 'a'|center(10**9) }}", BUDGET),
    ("body", "{{ 'a' * 10**9 }}", BUDGET),
    ("body", "{{ 'a'.encode().center(10**9) }}", BUDGET),
    # growth by +, replace, join, filters, and values kept in lists
    ("body", NS + LOOP40 + "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}", BUDGET),
    (
        "body",
        NS + LOOP40 + "{% set ns.s = ns.s|replace('a', 'aa') %}{% endfor %}{{ ns.s|length }}",
        BUDGET,
    ),
    (
        "body",
        NS + LOOP40 + "{% set ns.s = ns.s.replace('a', 'aa') %}{% endfor %}{{ ns.s|length }}",
        BUDGET,
    ),
    ("body", "{{ ('a'*1000).replace('', 'b'*10000) }}", BUDGET),
    ("body", "{{ ('x'*10000).join(['a']*10000) }}", BUDGET),
    ("body", "{{ ('a'*100000)|list|join('x'*100) }}", BUDGET),
    ("body", "{{ range(10000)|map('center', 10000)|list|length }}", BUDGET),
    ("body", "{{ ('<'*1000000)|e|length }}", BUDGET),
    ("body", "{{ ('a\n'*100000)|indent(100) }}", BUDGET),
    (
        "body",
        "{% set ns = namespace(l=[1]) %}" + LOOP40 + "{% set ns.l = ns.l + ns.l %}{% endfor %}",
        BUDGET,
    ),
    ("body", "{{ [1]|batch(10**9, 'x')|list }}", BUDGET),
    ("body", "{{ [1]|slice(10**9)|list }}", BUDGET),
    ("body", "{{ [1, [2]]|tojson(10**9) }}", BUDGET),
    # time: recursion without a loop, loops that print, huge numbers
    (
        "body",
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(60) }}",
        BUDGET,
    ),
    (
        "body",
        "{% for i in range(10000) %}{% for j in range(10000) %}{{ j }}{% endfor %}{% endfor %}",
        BUDGET,
    ),
    (
        "body",
        "{% set ns = namespace(x=10**64) %}" + LOOP40 + "{% set ns.x = ns.x * ns.x %}{% endfor %}",
        BUDGET,
    ),
    ("body", "{{ ((10**64)**64)**64 }}", BUDGET),
    # refused outright
    ("body", "{{ [[1]*10000]*10000|sum(start=[]) }}", SANDBOX),
    ("body", "{{ 'a'.translate({97: 'b'*1000}) }}", SANDBOX),
    # the other fields
    ("subject", "{{ 'a'.center(10**9) }}", BUDGET),
    ("subject", "{{ lipsum(10**5) }}", BUDGET),
    ("subject", "{{ 'a' * 999 }}", BUDGET),  # 998 bytes after folding
    ("from", "{{ 'a'.center(10**9) }} <pbx@acme.example>", BUDGET),
]
