"""The bundled character cards (YAML). Installed as the package ``roleplay.characters`` so an
installed wheel finds them through ``importlib.resources``; see pyproject.toml."""
