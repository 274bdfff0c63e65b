"""The graph editor: a NiceGUI element wrapping Vue Flow (see `graph_editor.py`)."""

from components.graph_editor.graph_editor import GraphEditor
from components.graph_editor.keys import copy_key, is_valid_key, key_base, unique_key

__all__ = ["GraphEditor", "copy_key", "is_valid_key", "key_base", "unique_key"]
