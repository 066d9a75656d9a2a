"""Company knowledge base: load (and dump) the YAML of formats.md section 1."""
from intervene.kb.loader import KBError, dump_kb, load_kb, load_kb_text

__all__ = ["KBError", "dump_kb", "load_kb", "load_kb_text"]
