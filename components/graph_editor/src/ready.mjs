// The graph loads once the canvas has a size (Vue Flow's pane-ready), so that it opens with the right view and
// Vue Flow renders only what is inside it, once. Until then the graph waits, and so do Python's calls.
import { ref } from "vue";

/** `load(graph)` shows a graph on a ready canvas; `initialGraph` is the one to show first. */
export function useReady(initialGraph, load) {
  let ready = false;
  let pendingGraph = initialGraph;
  const queued = [];
  const loaded = ref(false);
  // the minimap mounts once the canvas has painted: a large graph shows up sooner
  const showMinimap = ref(false);

  /** `method`, deferred until the canvas is ready when called before. */
  const whenReady =
    (method) =>
    (...args) => {
      if (ready) return method(...args);
      queued.push(() => method(...args));
      return undefined;
    };

  /** Replace the whole graph (Python's `set_graph`), or the one waiting for the canvas. */
  function setGraph(graph) {
    if (!ready) {
      pendingGraph = graph;
      return;
    }
    load(graph);
  }

  function onPaneReady() {
    ready = true;
    setGraph(pendingGraph);
    loaded.value = true;
    pendingGraph = null;
    for (const call of queued.splice(0)) call();
    // two frames: the canvas paints before the minimap mounts
    requestAnimationFrame(() => requestAnimationFrame(() => (showMinimap.value = true)));
  }

  return { loaded, showMinimap, whenReady, setGraph, onPaneReady };
}
