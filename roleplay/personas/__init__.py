"""User personas: who ``{{user}}`` is in a chat, and which characters suit them.

- ``model``: the ``Persona`` (name, description, optional Big Five and MBTI).
- ``store``: one YAML file per persona under ``<home>/personas/`` and the active one's
  pointer; ``resolve_persona(name)`` is what a chat asks for (``--persona``, ``/persona``).
- ``matching``: ranks the bundled and user cards against the persona's personality,
  ``similar`` or ``complementary`` (the rule is ``data/matching.yaml``).

See docs/personas.md.
"""
