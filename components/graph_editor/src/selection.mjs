// The selection, reported to Python as `select` events. Vue Flow has no selection-change event: it is derived
// from the `select` and `remove` entries of its change lists, at most once per tick and only when it changed.

function touchesSelection(change) {
  return change.type === "select" || change.type === "remove";
}

export function useSelection(flow, emit) {
  let lastSelection = '{"nodes":[],"edges":[]}';
  let scheduled = false;

  /** Emit `select` after this tick if the selection is not the one last emitted. */
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      const selection = {
        nodes: flow.getSelectedNodes.value.filter((node) => node.type !== "note").map((node) => node.id),
        edges: flow.getSelectedEdges.value.map((edge) => edge.id),
      };
      const text = JSON.stringify(selection);
      if (text === lastSelection) return;
      lastSelection = text;
      emit("select", selection);
    });
  }

  function clear() {
    flow.removeSelectedElements();
    flow.nodesSelectionActive.value = false;
  }

  function selectOnly(ids) {
    clear();
    const wanted = new Set(ids);
    const nodes = flow.nodes.value.filter((node) => wanted.has(node.id));
    if (nodes.length) flow.addSelectedNodes(nodes);
    schedule();
  }

  function selectAll() {
    flow.addSelectedNodes(flow.nodes.value);
    flow.addSelectedEdges(flow.edges.value);
    schedule();
  }

  function onChanges(changes) {
    if (changes.some(touchesSelection)) schedule();
  }

  return { schedule, clear, selectOnly, selectAll, onNodesChange: onChanges, onEdgesChange: onChanges };
}
