// A sticky note's markdown, drawn as Vue nodes: never HTML. What people write in notes: paragraphs, headings
// (`#`), lists (`-`, `*`, `1.`), **bold**, *emphasis*, `code` and [links](https://…). Everything else is text,
// shown as typed; a link goes only to http(s), mailto or a path on this site.
import { h } from "vue";

const INLINE = /`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|\[([^\]]+)\]\(([^)\s]+)\)/g;
const SAFE_LINK = /^(https?:\/\/|mailto:|\/(?!\/))/i;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;
const HEADING = /^(#{1,3})\s+(.*)$/;

/** The inline parts of one line: text as strings, the marked-up parts as elements. */
export function inline(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    const [whole, code, bold, star, underscore, label, href] = match;
    if (code !== undefined) parts.push(h("code", code));
    else if (bold !== undefined) parts.push(h("strong", bold));
    else if (star !== undefined || underscore !== undefined) parts.push(h("em", star ?? underscore));
    else if (SAFE_LINK.test(href)) {
      parts.push(h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", class: "nodrag" }, label));
    } else parts.push(whole);
    last = match.index + whole.length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** The blocks of a note: paragraphs (lines joined by breaks), headings and lists. */
export function blocks(text) {
  const out = [];
  let paragraph = [];
  let list = null;
  const endParagraph = () => {
    if (paragraph.length)
      out.push(
        h(
          "p",
          paragraph.flatMap((line, i) => (i ? [h("br"), ...inline(line)] : inline(line))),
        ),
      );
    paragraph = [];
  };
  const endList = () => {
    if (list)
      out.push(
        h(
          list.tag,
          list.items.map((item) => h("li", inline(item))),
        ),
      );
    list = null;
  };
  for (const line of String(text ?? "").split(/\r?\n/)) {
    const bullet = BULLET.exec(line);
    const numbered = bullet ? null : NUMBERED.exec(line);
    const heading = HEADING.exec(line);
    if (bullet || numbered) {
      endParagraph();
      const tag = bullet ? "ul" : "ol";
      if (list?.tag !== tag) endList();
      list = list || { tag, items: [] };
      list.items.push((bullet || numbered)[1]);
    } else if (heading) {
      endParagraph();
      endList();
      out.push(h(`h${heading[1].length + 3}`, inline(heading[2])));
    } else if (!line.trim()) {
      endParagraph();
      endList();
    } else {
      endList();
      paragraph.push(line);
    }
  }
  endParagraph();
  endList();
  return out;
}

/** `<MarkdownText :text="…" />`: the note's text, rendered. */
export const MarkdownText = {
  name: "FlowyardMarkdownText",
  props: { text: { type: String, default: "" } },
  setup(props) {
    return () => h("div", { class: "fy-note__md" }, blocks(props.text));
  },
};
