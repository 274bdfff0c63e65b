// The bundle behind `graph_editor.js`: Vue Flow with its add-ons, the editor's composables and helpers, and
// every stylesheet (inlined, injected once). `vue` stays external: NiceGUI's import map provides the one runtime.
import coreCss from "@vue-flow/core/dist/style.css?inline";
import themeCss from "@vue-flow/core/dist/theme-default.css?inline";
import controlsCss from "@vue-flow/controls/dist/style.css?inline";
import minimapCss from "@vue-flow/minimap/dist/style.css?inline";
import resizerCss from "@vue-flow/node-resizer/dist/style.css?inline";
import editorCss from "./editor.css?inline";

export { ConnectionMode, Handle, MarkerType, Position, VueFlow, useVueFlow } from "@vue-flow/core";
export { Background, BackgroundVariant } from "@vue-flow/background";
export { ControlButton, Controls } from "@vue-flow/controls";
export { MiniMap } from "@vue-flow/minimap";
export { FIT_OPTIONS, GRID } from "./constants.mjs";
export { copyKey, isValidKey, keyBase, uniqueKey } from "./keys.mjs";
export { AgentNode } from "./node.mjs";
export { NOTE_PREFIX, StickyNote, useNotes } from "./notes.mjs";
export { minimapColour } from "./status.mjs";
export { useOverlays } from "./overlays.mjs";
export { useGraph } from "./graph.mjs";
export { useSelection } from "./selection.mjs";
export { useHistory } from "./history.mjs";
export { openingViewport, useLayout } from "./layout.mjs";
export { tidyLayout } from "./tidy.mjs";
export { useEdits } from "./edits.mjs";
export { useClipboard } from "./clipboard.mjs";
export { DRAG_TYPE, useDragDrop } from "./dragdrop.mjs";
export { SHORTCUTS, useKeyboard } from "./keyboard.mjs";
export { useReady } from "./ready.mjs";
export { useView } from "./view.mjs";

const STYLE_ID = "flowyard-graph-editor-css";
if (typeof document !== "undefined" && !document.getElementById(STYLE_ID)) {
  const style = document.createElement("style");
  style.id = STYLE_ID;
  style.textContent = [coreCss, themeCss, controlsCss, minimapCss, resizerCss, editorCss].join("\n");
  document.head.append(style);
}
