// Copy and paste of nodes with the edges between them. Pasted nodes get fresh keys (`transform_2`) and land
// one step right and down; the next paste lands one step further, so repeated pastes cascade.
import { PASTE_OFFSET } from "./constants.mjs";
import { clone, plainEdge, toFlowEdge } from "./graph.mjs";
import { copyKey } from "./keys.mjs";
import { newEdgeId } from "./edits.mjs";

// One clipboard for every editor on the page: copy in one workflow, paste in another.
let clipboard = null;

function shifted(node) {
  return { ...node, position: { x: node.position.x + PASTE_OFFSET, y: node.position.y + PASTE_OFFSET } };
}

export function useClipboard({ flow, graph, history, selection, edits }) {
  /** Copy the selected nodes and the edges between them; false when no node is selected. */
  function copySelection() {
    const nodes = flow.getSelectedNodes.value;
    if (!nodes.length) return false;
    const ids = new Set(nodes.map((node) => node.id));
    clipboard = {
      nodes: nodes.map((node) => graph.plainNode(node, false)),
      edges: flow.edges.value.filter((edge) => ids.has(edge.source) && ids.has(edge.target)).map(plainEdge),
    };
    return true;
  }

  /** Add a copy of the clipboard (an edit) and select it; returns the new keys. */
  function paste() {
    if (!clipboard || !clipboard.nodes.length) return [];
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
    clipboard = { nodes: clipboard.nodes.map(shifted), edges: clipboard.edges };
    selection.clear();
    flow.addNodes(nodes.map(graph.toFlowNode));
    flow.addEdges(edges.map(toFlowEdge));
    history.commit();
    selection.selectOnly(nodes.map((node) => node.id));
    return nodes.map((node) => node.id);
  }

  function cutSelection() {
    if (copySelection()) edits.deleteSelection();
  }

  return { copySelection, paste, cutSelection };
}
