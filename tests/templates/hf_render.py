#!/usr/bin/env python3
"""An independent chat-template renderer: Python's jinja2 configured as Hugging Face's
`apply_chat_template` configures it (transformers/utils/chat_template_utils.py), so that rdpt's
renderings (llama.cpp's Jinja runtime) can be compared with it byte for byte.

    hf_render.py REQUEST.json > rendering        (one request: the rendering's bytes)
    hf_render.py REQUESTS.json > renderings.json (a JSON array of requests: an array of strings)

A request: {"template": "...", "messages": [{"role": ..., "content": ...}, ...],
            "bos_token": "...", "eos_token": "...", "kwargs": {...}, "date": "YYYY-MM-DD"}

As Hugging Face does: an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and the
loop-controls extension; `raise_exception` and `strftime_now` globals; `tojson` without ASCII
escaping; render(messages=..., tools=None, documents=None, add_generation_prompt=True,
bos_token=..., eos_token=..., **kwargs). strftime_now reads the fixed date (noon), not the clock.
"""
import datetime
import json
import sys

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def render(req) -> str:
    day = datetime.datetime.strptime(req.get("date", "2024-07-26"), "%Y-%m-%d").replace(hour=12)

    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return day.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    template = env.from_string(req["template"])
    return template.render(messages=req["messages"], tools=None, documents=None, add_generation_prompt=True,
                           bos_token=req.get("bos_token", ""), eos_token=req.get("eos_token", ""),
                           **req.get("kwargs", {}))


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        req = json.load(f)
    if isinstance(req, list):
        sys.stdout.write(json.dumps([render(r) for r in req], ensure_ascii=True))
    else:
        sys.stdout.buffer.write(render(req).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
