"""The Jinja2 environment transformers' apply_chat_template renders with (see
transformers/utils/chat_template_utils.py), used to produce the fixtures' expected outputs."""
import json

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def outcome(env, source, variables):
    """{"expected": text}, {"expected_error": msg} for raise_exception, or {"fails": msg} for other errors."""
    try:
        return {"expected": env.from_string(source).render(**variables)}
    except TemplateError as e:
        if type(e) is TemplateError:
            return {"expected_error": str(e)}
        return {"fails": f"{type(e).__name__}: {e}"}
    except Exception as e:  # TypeError, ValueError, ... raised by Python operations
        return {"fails": f"{type(e).__name__}: {e}"}
