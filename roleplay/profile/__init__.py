"""What each character learns about the user (docs/profile.md).

Facts the user states ("I'm vegetarian", "I moved to Oslo") are extracted by rules
(``extraction``, ``data/statement_patterns.yaml``), kept per (user, character) with their
history (``store``) and recalled for a turn (``profile.UserProfile``, the pipeline's
``ProfilePort``); ``factory.make_profile_factory`` is what the application wires in.
"""
