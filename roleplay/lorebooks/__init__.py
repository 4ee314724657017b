"""Standalone lorebooks: SillyTavern World Info files imported into ``<home>/lorebooks/``.

- ``world_info``: reads a World Info JSON file into the card model's ``Lorebook`` (the one
  ``roleplay.prompting.lorebook`` scans), refusing anything that is not World Info.
- ``store``: the imported files, kept byte for byte (so ``export`` gives back the very file
  that was imported), with a small sidecar holding the name and where it came from.
- ``attach``: the books a chat uses: ``--lorebook NAME`` plus those a card names in
  ``extensions.roleplay.lorebooks``.

See docs/lorebooks.md.
"""
