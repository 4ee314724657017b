"""The sandboxed Jinja environment the prompt templates render in.

Card text reaches templates only as variables, never as template source, so ``{{ 7*7 }}``
in a description reaches the model literally.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=PackageLoader("roleplay.prompting", "templates"),
        autoescape=False,  # plain text for a language model, not HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render_template(template: str, **values: Any) -> str:
    """``templates/<template>`` rendered with ``values`` (data, never compiled)."""
    return environment().get_template(template).render(**values)
