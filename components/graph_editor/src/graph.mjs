// The plain graph (what Python sends and receives) and Vue Flow's nodes and edges, both ways. The live graph
// is Vue Flow's store: no deep watchers, and a plain copy only when something is committed.
import { ref } from "vue";
import { NODE_WIDTH } from "./constants.mjs";
import { isNote, plainNote, toFlowNote } from "./notes.mjs";

// The overlay fields of a node's `data`; everything else in it is the node's settings, kept as given and copied.
export const OVERLAY_KEYS = ["status", "problems", "note"];

/** A deep copy of plain JSON. */
export function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function round(value) {
  return Math.round((Number(value) || 0) * 10) / 10;
}

/**
 * The size a card will have, until it is measured. With it, Vue Flow renders only the nodes inside the
 * view (`only-render-visible-elements`) from the first frame: unmeasured nodes would all count as
 * visible. The half pixel guarantees the measured size differs, so Vue Flow always takes the measure
 * (and the handle positions) of a node once it is rendered.
 */
function estimatedSize(data) {
  const badges =
    data.needsApproval || Number(data.retries) > 0 || data.problems.length || data.note || data.disabled ? 24 : 0;
  const outcomes = data.handles ? 11 + 24 * data.handles.length : 0;
  return { width: NODE_WIDTH + 0.5, height: 58.5 + badges + outcomes };
}

export function toFlowEdge(edge) {
  return {
    id: String(edge.id),
    source: String(edge.source),
    target: String(edge.target),
    sourceHandle: edge.sourceHandle ?? null,
    label: edge.label ?? undefined,
    ...(edge.data ? { data: clone(edge.data) } : {}), // opaque to the canvas (an edge's condition), kept
  };
}

export function plainEdge(edge) {
  return {
    id: edge.id,
    source: edge.source,
    target: edge.target,
    sourceHandle: edge.sourceHandle ?? null,
    label: typeof edge.label === "string" ? edge.label : null,
    ...(edge.data ? { data: clone(edge.data) } : {}),
  };
}

/** The conversions of one canvas (they lay its `overlays` on the nodes) and the loading of a whole graph. */
export function useGraph(flow, overlays) {
  const nodeCount = ref(0);
  // Vue Flow runs `isValidConnection` on every edge it is given, loaded ones too: loading skips our rules
  let loading = false;

  function toFlowNode(node) {
    const data = { ...clone(node.data || {}) };
    data.handles = Array.isArray(data.handles) ? data.handles.map(String) : null;
    Object.assign(data, overlays.of(node.id));
    const id = String(node.id);
    const measured = flow.findNode(id)?.dimensions;
    return {
      id,
      type: "agent",
      position: { x: Number(node.position?.x) || 0, y: Number(node.position?.y) || 0 },
      data,
      dimensions: measured?.width ? { ...measured } : estimatedSize(data),
    };
  }

  function plainNode(node, withOverlays) {
    const data = {};
    for (const [key, value] of Object.entries(node.data || {})) {
      if (!OVERLAY_KEYS.includes(key)) data[key] = value;
    }
    const position = { x: round(node.position.x), y: round(node.position.y) };
    const plain = { id: node.id, position, data: clone(data) };
    if (withOverlays) {
      const { status, problems } = overlays.of(node.id);
      Object.assign(plain.data, { status, problems });
    }
    return plain;
  }

  /** The steps on the canvas (Vue Flow nodes that are not sticky notes). */
  function steps() {
    return flow.nodes.value.filter((node) => !isNote(node));
  }

  /** The whole graph as plain JSON; `withOverlays`: with each node's status and problems (what Python gets). */
  function currentGraph(withOverlays = true) {
    return {
      nodes: steps().map((node) => plainNode(node, withOverlays)),
      edges: flow.edges.value.map(plainEdge),
      notes: flow.nodes.value.filter(isNote).map(plainNote),
    };
  }

  /** Show `graph` (plain JSON) instead of what is on the canvas; edges to missing nodes are left out. */
  function load(graph) {
    const nodes = (graph?.nodes || []).filter((node) => node && node.id != null).map(toFlowNode);
    const ids = new Set(nodes.map((node) => node.id));
    const edges = (graph?.edges || [])
      .filter((edge) => edge && ids.has(String(edge.source)) && ids.has(String(edge.target)))
      .map(toFlowEdge);
    // notes first: the steps are drawn over them
    const notes = (graph?.notes || []).filter((note) => note && note.id != null).map(toFlowNote);
    loading = true;
    try {
      flow.setNodes([...notes, ...nodes]);
      flow.setEdges(edges);
    } finally {
      loading = false;
    }
    nodeCount.value = nodes.length;
  }

  return { nodeCount, steps, toFlowNode, plainNode, currentGraph, load, isLoading: () => loading };
}
