// Where things are on the canvas: the tidy layout (dagre, ranks left to right like the flow of a run), the
// view a graph opens with, fitting and centring.
import dagre from "@dagrejs/dagre";
import { nextTick } from "vue";
import { FIT_OPTIONS, NODE_HEIGHT, NODE_WIDTH, PASTE_OFFSET } from "./constants.mjs";

const FALLBACK = { width: 240, height: 72 };
// A large graph opens readable rather than whole: never below this zoom, anchored on its entry (left) side.
const OPEN_MIN_ZOOM = 0.5;

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

function boundsOf(nodes) {
  let [left, top, right, bottom] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const node of nodes) {
    left = Math.min(left, node.position.x);
    top = Math.min(top, node.position.y);
    right = Math.max(right, node.position.x + node.dimensions.width);
    bottom = Math.max(bottom, node.position.y + node.dimensions.height);
  }
  return { left, top, right, bottom };
}

/**
 * The viewport a graph opens with on a `width` × `height` canvas: all of its (Vue Flow) `nodes` when that is
 * readable, else its entry side at a readable zoom.
 */
export function openingViewport(nodes, width, height) {
  if (!nodes.length) return { x: width / 2, y: height / 2, zoom: 1 };
  const { left, top, right, bottom } = boundsOf(nodes);
  const padding = 1 + FIT_OPTIONS.padding;
  const fitZoom = Math.min(width / ((right - left) * padding), height / ((bottom - top) * padding));
  if (fitZoom >= OPEN_MIN_ZOOM) {
    const zoom = Math.min(fitZoom, FIT_OPTIONS.maxZoom);
    return { x: width / 2 - ((left + right) / 2) * zoom, y: height / 2 - ((top + bottom) / 2) * zoom, zoom };
  }
  const zoom = OPEN_MIN_ZOOM;
  // too wide only (a chain): centred up and down, not pinned to the top edge
  let middle = (top + bottom) / 2;
  if ((bottom - top) * zoom > height - 80) {
    const entry = nodes.filter((node) => node.position.x < left + width / zoom / 2);
    const entryTop = Math.min(...entry.map((node) => node.position.y));
    const entryBottom = Math.max(...entry.map((node) => node.position.y + node.dimensions.height));
    middle = Math.max((entryTop + entryBottom) / 2, top + height / zoom / 2 - 40);
  }
  return { x: 40 - left * zoom, y: height / 2 - middle * zoom, zoom };
}

export function useLayout({ flow, root, graph, history, selection, isReadonly }) {
  function fitView() {
    flow.fitView({ ...FIT_OPTIONS, duration: 0 });
  }

  /** Lay the graph out left to right (an edit), then fit it. */
  function tidy() {
    if (isReadonly() || !flow.nodes.value.length) return;
    const positions = tidyLayout(
      flow.nodes.value.map((node) => ({ id: node.id, width: node.dimensions.width, height: node.dimensions.height })),
      flow.edges.value,
    );
    for (const node of flow.nodes.value) {
      const position = positions.get(node.id);
      if (position) node.position = position;
    }
    history.commit();
    nextTick(() => fitView());
  }

  /** Set the view for `plain` (a graph about to be loaded): see `openingViewport`. */
  function openView(plain) {
    const nodes = (plain?.nodes || []).filter((node) => node && node.id != null).map(graph.toFlowNode);
    const { width, height } = flow.dimensions.value;
    if (!width || !height) return;
    flow.setViewport(openingViewport(nodes, width, height));
  }

  /** Where a node added without a position goes: the middle of the view, not exactly on top of another. */
  function viewportCentre() {
    const bounds = root.value?.getBoundingClientRect();
    if (!bounds) return { x: 0, y: 0 };
    const centre = flow.screenToFlowCoordinate({
      x: bounds.left + bounds.width / 2,
      y: bounds.top + bounds.height / 2,
    });
    const taken = flow.nodes.value;
    const covers = (position) => (node) =>
      Math.abs(node.position.x - position.x) < 8 && Math.abs(node.position.y - position.y) < 8;
    let position = { x: centre.x - NODE_WIDTH / 2, y: centre.y - NODE_HEIGHT / 2 };
    while (taken.some(covers(position))) {
      position = { x: position.x + PASTE_OFFSET, y: position.y + PASTE_OFFSET };
    }
    return position;
  }

  /** Run `callback` once every node has been measured (new nodes have no size until the next frames). */
  function whenMeasured(callback, frames = 30) {
    const measured = flow.nodes.value.every((node) => node.dimensions.width && node.dimensions.height);
    if (measured || frames <= 0) callback();
    else requestAnimationFrame(() => whenMeasured(callback, frames - 1));
  }

  /** Select this node alone and centre the view on it. */
  function selectNode(key) {
    const node = flow.findNode(key);
    if (!node) return;
    selection.selectOnly([key]);
    whenMeasured(() => {
      const width = node.dimensions.width || NODE_WIDTH;
      const height = node.dimensions.height || NODE_HEIGHT;
      const zoom = Math.max(flow.viewport.value.zoom, 0.9);
      flow.setCenter(node.position.x + width / 2, node.position.y + height / 2, { zoom, duration: 300 });
    });
  }

  return { fitView, tidy, openView, viewportCentre, selectNode };
}
