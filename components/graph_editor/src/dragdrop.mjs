// Drag and drop from the page's palette: a palette item (see `GraphEditor.make_draggable`) carries its entry as
// JSON under DRAG_TYPE; dropping it adds a node there, snapped to the grid, and selects it.
import { ref } from "vue";
import { GRID, NODE_HEIGHT, NODE_WIDTH } from "./constants.mjs";

export const DRAG_TYPE = "application/flowyard-agent";

function snap(value) {
  return Math.round(value / GRID) * GRID;
}

export function useDragDrop({ flow, root, edits, selection, isReadonly }) {
  // while a palette item is dragged over the canvas (the `fy-dropping` class)
  const dropping = ref(false);

  function acceptsDrop(event) {
    return !isReadonly() && [...(event.dataTransfer?.types || [])].includes(DRAG_TYPE);
  }

  function onDragOver(event) {
    if (!acceptsDrop(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    dropping.value = true;
  }

  function onDragLeave(event) {
    if (!root.value?.contains(event.relatedTarget)) dropping.value = false;
  }

  function droppedEntry(event) {
    try {
      return JSON.parse(event.dataTransfer.getData(DRAG_TYPE));
    } catch {
      return null;
    }
  }

  function onDrop(event) {
    dropping.value = false;
    if (!acceptsDrop(event)) return;
    event.preventDefault();
    const entry = droppedEntry(event);
    if (!entry || typeof entry !== "object") return;
    const point = flow.screenToFlowCoordinate({ x: event.clientX, y: event.clientY });
    const key = edits.addNode(entry, { x: snap(point.x - NODE_WIDTH / 2), y: snap(point.y - NODE_HEIGHT / 2) });
    root.value?.focus({ preventScroll: true });
    selection.selectOnly([key]);
  }

  return { dropping, onDragOver, onDragLeave, onDrop };
}
