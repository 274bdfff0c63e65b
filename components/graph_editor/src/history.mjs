// Undo and redo: the graph (without overlays) as JSON snapshots, one per committed edit. Every commit also
// emits `change` with the whole graph, so Python always holds what the canvas shows.
import { onBeforeUnmount } from "vue";

const HISTORY_LIMIT = 200;
// Arrow keys move a selected node one step per key press: the steps of one burst make one edit.
const MOVE_SETTLE_MS = 400;

// A node moved by the arrow keys: a position change outside a drag (a drag ends in node-drag-stop).
function isKeyMove(change) {
  return change.type === "position" && change.position && change.dragging === false;
}

export function useHistory({ flow, graph, selection, emit, isReadonly }) {
  let history = [];
  let index = -1;
  let pendingMove = null;

  function snapshot() {
    return JSON.stringify(graph.currentGraph(false));
  }

  /** Forget every step: the graph on the canvas is the new starting point. */
  function reset() {
    history = [snapshot()];
    index = 0;
  }

  function cancelMove() {
    clearTimeout(pendingMove);
    pendingMove = null;
  }

  function emitChange() {
    graph.nodeCount.value = graph.steps().length;
    emit("change", graph.currentGraph(true));
  }

  /** Record the current graph as one undoable step and tell Python; a no-op when nothing changed. */
  function commit() {
    cancelMove();
    const state = snapshot();
    if (state === history[index]) return false;
    history.splice(index + 1);
    history.push(state);
    if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT);
    index = history.length - 1;
    emitChange();
    return true;
  }

  function restore(to) {
    const selected = new Set(flow.getSelectedNodes.value.map((node) => node.id));
    graph.load(JSON.parse(history[to]));
    index = to;
    const reselect = flow.nodes.value.filter((node) => selected.has(node.id));
    if (reselect.length) flow.addSelectedNodes(reselect);
    emitChange();
    selection.schedule();
  }

  function undo() {
    if (isReadonly()) return;
    if (pendingMove) commit();
    if (index > 0) restore(index - 1);
  }

  function redo() {
    if (isReadonly()) return;
    if (index < history.length - 1) restore(index + 1);
  }

  function onNodesChange(changes) {
    if (!changes.some(isKeyMove) || isReadonly()) return;
    clearTimeout(pendingMove);
    pendingMove = setTimeout(commit, MOVE_SETTLE_MS);
  }

  onBeforeUnmount(cancelMove);

  return { commit, reset, cancelMove, undo, redo, onNodesChange };
}
