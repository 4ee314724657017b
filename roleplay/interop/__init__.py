"""Other tools' character formats: SillyTavern cards (V2/V3 JSON, PNG, CHARX),
text-generation-webui YAML and Pygmalion JSON, read into and written from our YAML cards.

One module per format (reading and, where supported, writing), plus the shared pieces:
``limits`` (size caps and strict JSON), ``png_chunks``, ``mapping`` (SillyTavern fields <->
card fields), ``lorebook_mapping``, ``mes_example``, ``traits`` (optional Big Five estimate),
``files`` (atomic, validated writes), and the two entry points ``importer`` and ``exporter``.
"""

from roleplay.interop.exporter import EXPORT_FORMATS, export_card
from roleplay.interop.importer import ImportResult, import_card

__all__ = ["EXPORT_FORMATS", "ImportResult", "export_card", "import_card"]
