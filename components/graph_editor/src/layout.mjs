// Tidy layout with dagre: ranks run left to right, like the flow of a run.
import dagre from "@dagrejs/dagre";

const FALLBACK = { width: 240, height: 72 };

/**
 * Top-left positions for `nodes` ({id, width, height}) connected by `edges` ({source, target}),
 * laid out left to right. Returns a Map id → {x, y}.
 */
export function tidyLayout(nodes, edges, { rankSep = 100, nodeSep = 40 } = {}) {
  const graph = new dagre.graphlib.Graph({ multigraph: true });
  graph.setGraph({ rankdir: "LR", ranksep: rankSep, nodesep: nodeSep, edgesep: 20, marginx: 0, marginy: 0 });
  graph.setDefaultEdgeLabel(() => ({}));
  const ids = new Set();
  for (const node of nodes) {
    ids.add(node.id);
    graph.setNode(node.id, { width: node.width || FALLBACK.width, height: node.height || FALLBACK.height });
  }
  edges.forEach((edge, index) => {
    if (ids.has(edge.source) && ids.has(edge.target) && edge.source !== edge.target) {
      graph.setEdge(edge.source, edge.target, {}, `e${index}`);
    }
  });
  dagre.layout(graph);
  const positions = new Map();
  for (const node of nodes) {
    const laid = graph.node(node.id);
    positions.set(node.id, { x: Math.round(laid.x - laid.width / 2), y: Math.round(laid.y - laid.height / 2) });
  }
  return positions;
}
