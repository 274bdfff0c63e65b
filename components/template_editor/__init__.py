from components.template_editor.template_editor import TemplateEditor

__all__ = ["TemplateEditor"]
