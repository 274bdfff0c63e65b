// Where things are on the canvas: the tidy layout (`tidy.mjs`), the view a graph opens with, fitting and
// centring.
import { nextTick } from "vue";
import { FIT_OPTIONS, GRID, NODE_HEIGHT, NODE_WIDTH, PASTE_OFFSET } from "./constants.mjs";
import { toFlowNote } from "./notes.mjs";
import { tidyLayout } from "./tidy.mjs";

// A large graph opens readable rather than whole: never below this zoom, anchored on its entry (left) side.
const OPEN_MIN_ZOOM = 0.5;
// After a tidy, a small graph stays readable: never below this zoom (a larger one: `OPEN_MIN_ZOOM`).
const TIDY_MIN_ZOOM = 0.75;
const SMALL_GRAPH = 20;
// a tidy graph is compact: a narrower margin than a fit's lets it show whole at that zoom more often
const TIDY_MARGIN = 0.1;

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
 * readable (at `minZoom` or closer, with a `margin` around), else its entry side at `minZoom`.
 */
export function openingViewport(nodes, width, height, { minZoom = OPEN_MIN_ZOOM, margin = FIT_OPTIONS.padding } = {}) {
  if (!nodes.length) return { x: width / 2, y: height / 2, zoom: 1 };
  const { left, top, right, bottom } = boundsOf(nodes);
  const padding = 1 + margin;
  const fitZoom = Math.min(width / ((right - left) * padding), height / ((bottom - top) * padding));
  if (fitZoom >= minZoom) {
    const zoom = Math.min(fitZoom, FIT_OPTIONS.maxZoom);
    return { x: width / 2 - ((left + right) / 2) * zoom, y: height / 2 - ((top + bottom) / 2) * zoom, zoom };
  }
  const zoom = minZoom;
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

  /** Lay the graph out left to right (an edit), then show it at a readable zoom (see `openingViewport`). */
  function tidy() {
    const nodes = graph.steps(); // notes stay where people put them
    if (isReadonly() || !nodes.length) return;
    const positions = tidyLayout(
      nodes.map((node) => ({
        id: node.id,
        width: node.dimensions.width,
        height: node.dimensions.height,
        x: node.position.x,
        y: node.position.y,
        handles: node.handleBounds?.source || [],
      })),
      flow.edges.value,
      { grid: GRID, outcomes: (id) => flow.findNode(id)?.data.handles || null },
    );
    for (const node of nodes) {
      const position = positions.get(node.id);
      if (position) node.position = position;
    }
    history.commit();
    nextTick(() => {
      const { width, height } = flow.dimensions.value;
      const minZoom = nodes.length <= SMALL_GRAPH ? TIDY_MIN_ZOOM : OPEN_MIN_ZOOM;
      if (width && height) flow.setViewport(openingViewport(nodes, width, height, { minZoom, margin: TIDY_MARGIN }));
    });
  }

  /** Set the view for `plain` (a graph about to be loaded): see `openingViewport`. */
  function openView(plain) {
    const nodes = (plain?.nodes || []).filter((node) => node && node.id != null).map(graph.toFlowNode);
    nodes.push(...(plain?.notes || []).filter((note) => note && note.id != null).map(toFlowNote));
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
