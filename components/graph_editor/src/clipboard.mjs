// Copy and paste of nodes with the edges between them, and of sticky notes. Pasted nodes get fresh keys
// (`transform_2`), notes fresh ids, and they land one step right and down; the next paste lands one step
// further, so repeated pastes cascade.
import { PASTE_OFFSET } from "./constants.mjs";
import { clone, plainEdge, toFlowEdge } from "./graph.mjs";
import { copyKey } from "./keys.mjs";
import { newEdgeId } from "./edits.mjs";
import { NOTE_PREFIX, isNote, newNoteId, plainNote, toFlowNote } from "./notes.mjs";

// One clipboard for every editor on the page: copy in one workflow, paste in another.
let clipboard = null;

function shifted(node) {
  return { ...node, position: { x: node.position.x + PASTE_OFFSET, y: node.position.y + PASTE_OFFSET } };
}

export function useClipboard({ flow, graph, history, selection, edits }) {
  /** Copy the selected nodes and notes, and the edges between the nodes; false when nothing is selected. */
  function copySelection() {
    const selected = flow.getSelectedNodes.value;
    const nodes = selected.filter((node) => !isNote(node));
    const notes = selected.filter(isNote).map(plainNote);
    if (!nodes.length && !notes.length) return false;
    const ids = new Set(nodes.map((node) => node.id));
    clipboard = {
      nodes: nodes.map((node) => graph.plainNode(node, false)),
      edges: flow.edges.value.filter((edge) => ids.has(edge.source) && ids.has(edge.target)).map(plainEdge),
      notes,
    };
    return true;
  }

  /** Add a copy of the clipboard (an edit) and select it; returns the new keys. */
  function paste() {
    if (!clipboard || (!clipboard.nodes.length && !clipboard.notes.length)) return [];
    const taken = edits.takenKeys();
    const renamed = new Map();
    const nodes = clipboard.nodes.map((node) => {
      const key = copyKey(node.id, taken);
      taken.add(key);
      renamed.set(node.id, key);
      return { ...shifted(clone(node)), id: key };
    });
    const edgeIds = new Set(flow.edges.value.map((edge) => edge.id));
    const edges = clipboard.edges.map((edge) => {
      const source = renamed.get(edge.source);
      const target = renamed.get(edge.target);
      return { ...edge, id: newEdgeId(source, edge.sourceHandle, target, edgeIds), source, target };
    });
    const ids = new Set(flow.nodes.value.map((node) => node.id));
    const notes = clipboard.notes.map((note) => {
      const id = newNoteId(ids);
      ids.add(NOTE_PREFIX + id);
      return { ...shifted(clone(note)), id };
    });
    clipboard = { nodes: clipboard.nodes.map(shifted), edges: clipboard.edges, notes: clipboard.notes.map(shifted) };
    selection.clear();
    flow.addNodes([...notes.map(toFlowNote), ...nodes.map(graph.toFlowNode)]);
    flow.addEdges(edges.map(toFlowEdge));
    history.commit();
    selection.selectOnly([...nodes.map((node) => node.id), ...notes.map((note) => NOTE_PREFIX + note.id)]);
    return nodes.map((node) => node.id);
  }

  function cutSelection() {
    if (copySelection()) edits.deleteSelection();
  }

  return { copySelection, paste, cutSelection };
}
