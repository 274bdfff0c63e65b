// A node's icon: the Material icon it names, drawn in its kind's colour.

const KIND_COLOURS = {
  transform: "#7c3aed",
  http: "#0284c7",
  branch: "#c026d3",
  approval: "#4f46e5",
  delay: "#0d9488",
};
const SPARE_COLOURS = ["#7c3aed", "#0284c7", "#c026d3", "#0d9488", "#4f46e5", "#db2777"];

/** The colour of a node kind: a fixed one for the built-in kinds, a stable pick from the spares for others. */
export function kindColour(kind) {
  if (!kind) return SPARE_COLOURS[0];
  if (KIND_COLOURS[kind]) return KIND_COLOURS[kind];
  let hash = 0;
  for (const char of String(kind)) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return SPARE_COLOURS[hash % SPARE_COLOURS.length];
}

// What Quasar's QIcon renders for a Material icon name (`o_` outlined, `sym_r_` rounded symbols…), without
// a component per icon: hundreds of nodes open noticeably faster.
const ICON_FONTS = [
  ["sym_o_", "material-symbols-outlined"],
  ["sym_r_", "material-symbols-rounded"],
  ["sym_s_", "material-symbols-sharp"],
  ["o_", "material-icons-outlined"],
  ["r_", "material-icons-round"],
  ["s_", "material-icons-sharp"],
];

/** The classes and ligature text of an `<i>` showing the icon `name`. */
export function iconFont(name) {
  const [prefix, font] = ICON_FONTS.find(([start]) => name.startsWith(start)) || ["", "material-icons"];
  return { css: `q-icon notranslate ${font}`, text: name.slice(prefix.length) };
}
