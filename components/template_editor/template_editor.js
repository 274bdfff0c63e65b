// A CodeMirror editor for Flowyard's templates: Jinja2 highlighting and completion of the names a template can use.
// Built on NiceGUI's own CodeMirror bundle (the "nicegui-codemirror" import), so no second copy is shipped.
import * as CM from "nicegui-codemirror";

// The dotted name being typed before the cursor, e.g. "nodes.enrich.out".
const NAME_BEFORE = /[A-Za-z_][\w.]*$|$/;

// In the dark theme the tokens take One Dark's colours: CodeMirror's default ones (a dark red string) are
// unreadable on a dark surface. The theme is Quasar's `body--dark` class, which the header's toggle switches.
const isDark = () => document.body.classList.contains("body--dark");
const highlighting = (dark) => (dark ? CM.syntaxHighlighting(CM.oneDarkHighlightStyle) : []);

// Whether `pos` is inside an open `{{ … }}` or `{% … %}` (an opener before it with no closer in between).
function insideTag(text, pos) {
  const before = text.slice(0, pos);
  const open = Math.max(before.lastIndexOf("{{"), before.lastIndexOf("{%"));
  if (open < 0) return false;
  const close = Math.max(before.lastIndexOf("}}"), before.lastIndexOf("%}"));
  return close < open;
}

export default {
  template: `<div></div>`,
  props: {
    value: String,
    completions: Array,
    placeholder: String,
    label: String,
    language: String,
    disable: Boolean,
  },
  watch: {
    value(text) {
      if (this.view && text !== this.view.state.doc.toString()) this.setValue(text);
    },
  },
  async mounted() {
    const description = CM.LanguageDescription.matchLanguageName(CM.languages, this.language || "Jinja2", true);
    const language = description ? await description.load() : [];
    const self = this;
    const complete = (context) => {
      const text = context.state.doc.toString();
      const inside = insideTag(text, context.pos);
      if (!inside && !context.explicit) return null;
      const word = context.matchBefore(NAME_BEFORE);
      if (!context.explicit && word.from === word.to && !/\{\{\s*$|\{%\s*$/.test(text.slice(0, context.pos))) return null;
      const after = text.slice(context.pos, context.pos + 2);
      return {
        from: word.from,
        validFor: /^[\w.]*$/,
        options: (self.completions || []).map((name) => ({
          label: name,
          type: name.includes(".") ? "property" : "variable",
          // outside a tag the name becomes a whole expression; inside one it is spaced from a closing `}}`
          apply: inside ? (after.startsWith("}}") || after.startsWith("%}") ? `${name} ` : name) : `{{ ${name} }}`,
        })),
      };
    };
    this.highlight = new CM.Compartment();
    this.dark = isDark();
    this.view = new CM.EditorView({
      parent: this.$el,
      state: CM.EditorState.create({
        doc: this.value || "",
        extensions: [
          CM.basicSetup,
          language,
          this.highlight.of(highlighting(this.dark)),
          CM.EditorView.lineWrapping,
          CM.placeholder(this.placeholder || ""),
          CM.EditorView.contentAttributes.of({ "aria-label": this.label || this.placeholder || "Template" }),
          CM.EditorState.readOnly.of(!!this.disable),
          CM.EditorState.languageData.of(() => [{ autocomplete: complete }]),
          CM.EditorView.updateListener.of((update) => {
            if (update.docChanged && !this.applying) this.$emit("change", update.state.doc.toString());
            if (update.focusChanged && !update.view.hasFocus) this.$emit("blur", update.state.doc.toString());
          }),
        ],
      }),
    });
    this.themeWatch = new MutationObserver(() => {
      if (isDark() === this.dark) return;
      this.dark = isDark();
      this.view.dispatch({ effects: this.highlight.reconfigure(highlighting(this.dark)) });
    });
    this.themeWatch.observe(document.body, { attributes: true, attributeFilter: ["class"] });
  },
  beforeUnmount() {
    this.themeWatch?.disconnect();
    this.view?.destroy();
  },
  methods: {
    setValue(text) {
      if (!this.view) return;
      this.applying = true;
      this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
      this.applying = false;
    },
    insert(text) {
      if (!this.view) return;
      const { from, to } = this.view.state.selection.main;
      this.view.dispatch({ changes: { from, to, insert: text }, selection: { anchor: from + text.length } });
      this.view.focus();
    },
  },
};
