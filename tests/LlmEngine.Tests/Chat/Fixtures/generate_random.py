"""Regenerates jinja-random.json: seeded random templates (whitespace control, expressions,
nested statements) rendered by Jinja2 as transformers configures it. A regression net for the
engine as a whole; the focused fixtures say what each feature should do.
Run: python3 generate_random.py"""
import json
import os
import random

from jinja_env import make_env, outcome

TEXTS = ["", " ", "  ", "\t", "\n", "\n\n", " \n", "\n  ", "a", "b ", " c\n", "\r\n", "x\n\t ", "\u00a0", "\n \n"]


def whitespace_template(rng, depth=0):
    def sign():
        return rng.choice(["", "", "-", "+"])

    def vsign():
        return rng.choice(["", "", "-"])

    parts = []
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        if r < 0.35:
            parts.append(rng.choice(TEXTS))
        elif r < 0.5:
            parts.append("{{%s 'v' %s}}" % (vsign(), vsign()))
        elif r < 0.6:
            parts.append("{#%s c %s#}" % (sign(), sign()))
        elif r < 0.85 and depth < 2:
            kind = rng.choice(["if", "for", "set"])
            inner = whitespace_template(rng, depth + 1)
            if kind == "if":
                parts.append("{%%%s if %s %s%%}%s{%%%s endif %s%%}" % (sign(), rng.choice(["true", "false"]), sign(), inner, sign(), sign()))
            elif kind == "for":
                parts.append("{%%%s for i in [1, 2] %s%%}%s{%%%s endfor %s%%}" % (sign(), sign(), inner, sign(), sign()))
            else:
                parts.append("{%%%s set x %s%%}%s{%%%s endset %s%%}[{{ x }}]" % (sign(), sign(), inner, sign(), sign()))
        else:
            parts.append("{%%%s raw %%}%s{{ r }}{%%%s endraw %%}" % (rng.choice(["", "-"]), rng.choice(TEXTS), sign()))
    return "".join(parts)


ATOMS = ["0", "1", "-3", "2.5", "0.1", "1e3", "'ab'", "''", "'x y'", "'é😀'", "none", "true", "false", "[]",
         "[1, 'a']", "[3, 1, 2]", "{}", "{'k': 1, 'a': 'b'}", "(1, 2)", "missing", "s", "n", "l", "d", "f"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">=", "in", "not in", "and", "or"]
FILTERS = ["length", "string", "upper", "trim", "first", "last", "list", "join(',')", "reverse | list", "int", "float",
           "abs", "round", "tojson", "sort", "unique | list", "default('D')", "count", "capitalize", "title", "lower",
           "items | list", "dictsort", "sum", "min", "max", "batch(2) | list", "map('string') | list", "select | list",
           "reject | list", "e", "indent(2)", "replace('a', 'Z')", "tojson(indent=1)"]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "sequence", "iterable",
         "boolean", "true", "false", "odd", "even", "divisibleby 2", "eq 1", "in [1, 'ab']", "lower", "upper"]
METHODS = [".strip()", ".split()", ".upper()", "[0]", "[-1]", ".get('k')", ".items() | list", ".keys() | list",
           ".startswith('a')", ".count('a')", ".replace('a', 'b')", ".title()"]


def expression(rng, depth=0):
    r = rng.random()
    if depth > 2 or r < 0.3:
        return rng.choice(ATOMS)
    if r < 0.5:
        return "(%s %s %s)" % (expression(rng, depth + 1), rng.choice(BINOPS), expression(rng, depth + 1))
    if r < 0.65:
        return "(%s | %s)" % (expression(rng, depth + 1), rng.choice(FILTERS))
    if r < 0.75:
        return "(%s is %s%s)" % (expression(rng, depth + 1), rng.choice(["", "not "]), rng.choice(TESTS))
    if r < 0.85:
        return "(%s)%s" % (expression(rng, depth + 1), rng.choice(METHODS))
    if r < 0.92:
        return "(%s if %s else %s)" % (expression(rng, depth + 1), expression(rng, depth + 1), expression(rng, depth + 1))
    return "(not %s)" % expression(rng, depth + 1)


STATEMENT_EXPRS = ["x", "y", "i", "loop.index", "loop.first", "loop.last", "loop.previtem", "loop.length", "ns.a",
                   "ns.b", "m.role", "m.content", "messages|length", "1", "'s'", "x ~ y", "(x or 0) + 1",
                   "caller() if caller is defined else 'nc'", "varargs", "kwargs", "f(1)", "g()", "i is odd"]


def statements(rng, depth=0):
    def e():
        return rng.choice(STATEMENT_EXPRS)

    out = []
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        if r < 0.3:
            out.append("{{ %s }}," % e())
        elif r < 0.45:
            out.append("{%% set %s = %s %%}" % (rng.choice(["x", "y", "ns.a", "ns.b"]), e()))
        elif r < 0.6 and depth < 2:
            out.append("{%% for %s in %s %%}%s{%% else %%}E{%% endfor %%}" % (
                rng.choice(["i", "m"]), rng.choice(["[1, 2, 3]", "messages", "[]", "range(2)", "messages[1:]"]), statements(rng, depth + 1)))
        elif r < 0.7 and depth < 2:
            out.append("{%% for i in [1, 2, 3] if i != x %%}%s{%% endfor %%}" % statements(rng, depth + 1))
        elif r < 0.8 and depth < 2:
            out.append("{%% if (%s) %%}%s{%% elif (%s) %%}%s{%% else %%}%s{%% endif %%}" % (
                e(), statements(rng, depth + 1), e(), statements(rng, depth + 1), statements(rng, depth + 1)))
        elif r < 0.85 and depth > 0:
            out.append(rng.choice(["{% if true %}{% break %}{% endif %}", "{% continue %}"]))
        elif r < 0.92 and depth < 2:
            out.append("{%% macro f(a, b=x) %%}%s[{{ a }}{{ b }}]{%% endmacro %%}" % statements(rng, depth + 1))
        elif depth < 2:
            out.append("{%% call(q) g() %%}%s{{ q }}{%% endcall %%}" % statements(rng, depth + 1))
    return "".join(out)


STATEMENT_PRELUDE = ("{% set ns = namespace(a=0, b='') %}{% set x = 1 %}{% set i = 0 %}"
                     "{% set m = {'role': 'r', 'content': 'c'} %}"
                     "{% set loop = namespace(index=0, first=true, last=false, previtem=none, length=0) %}"
                     "{% macro f(a, b=x) %}F{{ a }}{{ b }}{{ x }}{% endmacro %}"
                     "{% macro g() %}<{{ caller(7) if caller is defined }}>{% endmacro %}")

EXPRESSION_VARIABLES = {"s": "Hello", "n": 7, "l": ["b", "a", "b"], "d": {"x": [1, 2], "y": None}, "f": -1.5}
MESSAGES = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]


def main():
    rng = random.Random(20240611)
    env = make_env()
    cases = []

    def add(kind, source, variables):
        result = outcome(env, source, json.loads(json.dumps(variables)))
        # Python reprs with memory addresses cannot be matched; skip those few.
        if " at 0x" not in result.get("expected", ""):
            cases.append({"name": f"{kind}/{len(cases)}", "template": source, "variables": variables, **result})

    for _ in range(400):
        add("whitespace", whitespace_template(rng), {})
    for _ in range(400):
        add("expression", "{{ %s }}" % expression(rng), EXPRESSION_VARIABLES)
    for _ in range(120):
        add("statements", STATEMENT_PRELUDE + statements(rng) + "|{{ x }}{{ y }}{{ ns.a }}{{ ns.b }}", {"messages": MESSAGES})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jinja-random.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"renderer": "jinja2 " + __import__("jinja2").__version__ + ", environment as jinja_env.py", "cases": cases},
                  f, ensure_ascii=False, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
