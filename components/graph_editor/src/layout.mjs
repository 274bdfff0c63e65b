// Where things are on the canvas: the tidy layout (`tidy.mjs`), the view a graph opens with, fitting and
// centring.
import { nextTick, onBeforeUnmount, onMounted } from "vue";
import { FIT_OPTIONS, GRID, NODE_HEIGHT, NODE_WIDTH } from "./constants.mjs";
import { isNote, toFlowNote } from "./notes.mjs";
import { tidyLayout } from "./tidy.mjs";

// A large graph opens readable rather than whole: never below this zoom, anchored on its entry (left) side.
const OPEN_MIN_ZOOM = 0.5;
// After a tidy, a small graph stays readable: never below this zoom (a larger one: `OPEN_MIN_ZOOM`).
const TIDY_MIN_ZOOM = 0.75;
const SMALL_GRAPH = 20;
// a tidy graph is compact: a narrower margin than a fit's lets it show whole at that zoom more often
const TIDY_MARGIN = 0.1;
// how far from the canvas's edge a step brought into view lands
const REVEAL_MARGIN = 40;
// the free space kept around a new step
const GAP = 20;
const snap = (value) => Math.round(value / GRID) * GRID;

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

/** Whether all of `nodes` show on a `width` × `height` canvas at `minZoom` or closer (as `openingViewport`). */
function fitsAt(nodes, width, height, minZoom, margin) {
  const { left, top, right, bottom } = boundsOf(nodes);
  const padding = 1 + margin;
  return Math.min(width / ((right - left) * padding), height / ((bottom - top) * padding)) >= minZoom;
}

/** The least zoom a graph of `count` steps is shown at when it is fitted: a small one stays readable. */
function readableZoom(count) {
  return count <= SMALL_GRAPH ? TIDY_MIN_ZOOM : OPEN_MIN_ZOOM;
}

const sizeOf = (node) => ({
  width: node.dimensions?.width || NODE_WIDTH,
  height: node.dimensions?.height || NODE_HEIGHT,
});

export function useLayout({ flow, root, graph, history, selection, isReadonly }) {
  /** The canvas element's own size (what shows of the graph), not the window's. */
  function canvasSize() {
    const element = root.value;
    if (element?.clientWidth && element?.clientHeight)
      return { width: element.clientWidth, height: element.clientHeight };
    return flow.dimensions.value;
  }

  // A view just set to fit the canvas (a tidy's, the opening one) follows the canvas when it changes size soon
  // after: a side panel that opens with the same keystroke or click narrows it a moment later.
  const REFIT_MS = 1500;
  let refit = null;
  let refitUntil = 0;
  let observer = null;
  function fitting(apply) {
    refit = apply;
    refitUntil = performance.now() + REFIT_MS;
    apply();
  }
  onMounted(() => {
    observer = new ResizeObserver(() => {
      if (refit && performance.now() < refitUntil) refit();
    });
    if (root.value) observer.observe(root.value);
  });
  onBeforeUnmount(() => observer?.disconnect());
  // the person moves the view: it is theirs
  flow.onMoveStart((change) => {
    if (change?.event?.sourceEvent) refit = null;
  });

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
    nextTick(() =>
      fitting(() => {
        const { width, height } = canvasSize();
        const minZoom = readableZoom(nodes.length);
        if (width && height) flow.setViewport(openingViewport(nodes, width, height, { minZoom, margin: TIDY_MARGIN }));
      }),
    );
  }

  /** Set the view for `plain` (a graph about to be loaded): see `openingViewport`. */
  function openView(plain) {
    const nodes = (plain?.nodes || []).filter((node) => node && node.id != null).map(graph.toFlowNode);
    nodes.push(...(plain?.notes || []).filter((note) => note && note.id != null).map(toFlowNote));
    fitting(() => {
      const { width, height } = canvasSize();
      if (!width || !height) return;
      // a read-only graph (a run's) is looked at, not edited: a small one opens readable, as after a tidy
      const minZoom = isReadonly() ? readableZoom(nodes.filter((node) => !isNote(node)).length) : OPEN_MIN_ZOOM;
      flow.setViewport(openingViewport(nodes, width, height, { minZoom }));
    });
  }

  /** The middle of the view, in flow coordinates (a note added without a position goes near it). */
  function viewportCentre() {
    const bounds = root.value?.getBoundingClientRect();
    if (!bounds) return { x: 0, y: 0 };
    const centre = flow.screenToFlowCoordinate({
      x: bounds.left + bounds.width / 2,
      y: bounds.top + bounds.height / 2,
    });
    return { x: centre.x - NODE_WIDTH / 2, y: centre.y - NODE_HEIGHT / 2 };
  }

  /**
   * Where a node added without a position goes: in free space right of the selected step (else of the graph's
   * right-most step), moved down past any node it would cover; on an empty canvas, the middle of the view.
   */
  function freeSpot() {
    const steps = graph.steps();
    if (!steps.length) {
      const centre = viewportCentre();
      return { x: snap(centre.x), y: snap(centre.y) };
    }
    const selected = steps.filter((node) => node.selected);
    const rightEdge = (node) => node.position.x + sizeOf(node).width;
    const anchor = (selected.length ? selected : steps).reduce((best, node) =>
      rightEdge(node) > rightEdge(best) ? node : best,
    );
    const gap = 60;
    const position = { x: snap(rightEdge(anchor) + gap), y: snap(anchor.position.y) };
    const covers = (node) => {
      const { width, height } = sizeOf(node);
      return (
        position.x < node.position.x + width + GAP &&
        node.position.x < position.x + NODE_WIDTH + GAP &&
        position.y < node.position.y + height + GAP &&
        node.position.y < position.y + NODE_HEIGHT + GAP
      );
    };
    for (let tries = 0; tries < 200 && flow.nodes.value.some(covers); tries += 1) {
      position.y += NODE_HEIGHT + GAP;
    }
    return position;
  }

  /** Run `callback` once every node has been measured (new nodes have no size until the next frames). */
  function whenMeasured(callback, frames = 30) {
    const measured = flow.nodes.value.every((node) => node.dimensions.width && node.dimensions.height);
    if (measured || frames <= 0) callback();
    else requestAnimationFrame(() => whenMeasured(callback, frames - 1));
  }

  /** Whether all of `node` shows in the canvas at a readable zoom. */
  function inView(node, canvas) {
    const { x, y, zoom } = flow.viewport.value;
    const { width, height } = sizeOf(node);
    const [left, top] = [node.position.x * zoom + x, node.position.y * zoom + y];
    return (
      zoom >= OPEN_MIN_ZOOM &&
      left >= 0 &&
      top >= 0 &&
      left + width * zoom <= canvas.width &&
      top + height * zoom <= canvas.height
    );
  }

  /**
   * Select this node alone and bring it into view: the view stays when it shows the node already; else the
   * whole graph when it fits at a readable zoom; else the view centres on the node.
   */
  function selectNode(key) {
    const node = flow.findNode(key);
    if (!node) return;
    selection.selectOnly([key]);
    whenMeasured(() => {
      const canvas = canvasSize();
      if (canvas.width && canvas.height && inView(node, canvas)) return;
      const steps = graph.steps();
      const minZoom = readableZoom(steps.length);
      if (canvas.width && canvas.height && fitsAt(steps, canvas.width, canvas.height, minZoom, TIDY_MARGIN)) {
        flow.setViewport(openingViewport(steps, canvas.width, canvas.height, { minZoom, margin: TIDY_MARGIN }), {
          duration: 300,
        });
        return;
      }
      const { width, height } = sizeOf(node);
      const current = flow.viewport.value;
      if (current.zoom < OPEN_MIN_ZOOM || !canvas.width || !canvas.height) {
        flow.setCenter(node.position.x + width / 2, node.position.y + height / 2, { zoom: 0.9, duration: 300 });
        return;
      }
      // no closer than the least readable zoom (more of the graph in view), about the canvas's middle; then the
      // least move that shows it: the rest of the view stays where it was
      const zoom = Math.min(current.zoom, minZoom);
      const x = canvas.width / 2 - ((canvas.width / 2 - current.x) / current.zoom) * zoom;
      const y = canvas.height / 2 - ((canvas.height / 2 - current.y) / current.zoom) * zoom;
      const shift = (start, length, room) => {
        if (length + 2 * REVEAL_MARGIN > room) return REVEAL_MARGIN - start;
        if (start < REVEAL_MARGIN) return REVEAL_MARGIN - start;
        return Math.min(0, room - REVEAL_MARGIN - (start + length));
      };
      const dx = shift(node.position.x * zoom + x, width * zoom, canvas.width);
      const dy = shift(node.position.y * zoom + y, height * zoom, canvas.height);
      flow.setViewport({ x: x + dx, y: y + dy, zoom }, { duration: 300 });
    });
  }

  return { fitView, tidy, openView, viewportCentre, freeSpot, selectNode };
}
