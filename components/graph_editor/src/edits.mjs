// Edits made on the canvas or asked for by Python: adding, connecting, deleting, updating and renaming nodes.
// Each one ends in a commit (one undoable step and a `change` event).
import { nextTick } from "vue";
import { clone, OVERLAY_KEYS, toFlowEdge } from "./graph.mjs";
import { isValidKey, uniqueKey } from "./keys.mjs";

function edgeKey(source, sourceHandle, target) {
  return `${source}|${sourceHandle ?? ""}|${target}`;
}

/** A fresh edge id (`a->b`, `route.hot->b`, then `#2`, `#3`…), added to `taken`. */
export function newEdgeId(source, sourceHandle, target, taken) {
  const base = sourceHandle ? `${source}.${sourceHandle}->${target}` : `${source}->${target}`;
  let id = base;
  for (let i = 2; taken.has(id); i += 1) id = `${base}#${i}`;
  taken.add(id);
  return id;
}

/** The settings of a new node for the (palette-completed) entry `item`. */
function newNodeData(item, key) {
  return {
    title: item.title || item.agentId || key,
    agentId: item.agentId || "",
    kind: item.kind || "",
    icon: item.icon || "smart_toy",
    handles: Array.isArray(item.handles) ? [...item.handles] : null,
    needsApproval: !!item.needsApproval,
    retries: Number(item.retries) || 0,
    spec: clone(item.spec) || {},
  };
}

export function useEdits({ flow, graph, overlays, history, selection, layout, palette, isReadonly }) {
  function takenKeys() {
    return new Set(flow.nodes.value.map((node) => node.id));
  }

  function paletteEntry(entry) {
    const known = (palette() || []).find((item) => item.agentId === entry.agentId);
    return { ...(known || {}), ...entry };
  }

  /** Add a node for a palette entry; returns its key. `key` (from Python) is used when it is free. */
  function addNode(entry, position = null, key = null) {
    if (!entry) return null;
    const item = paletteEntry(entry);
    const existing = key ? flow.findNode(key) : null;
    // a node Python added before this page first rendered is already in the graph prop
    if (existing && existing.data.agentId === (item.agentId || "")) return key;
    const taken = takenKeys();
    const nodeKey = key && isValidKey(key) && !taken.has(key) ? key : uniqueKey(item.agentId || item.title, taken);
    const data = newNodeData(item, nodeKey);
    flow.addNodes([graph.toFlowNode({ id: nodeKey, position: position || layout.freeSpot(), data })]);
    history.commit();
    return nodeKey;
  }

  /** Vue Flow's `is-valid-connection`: no self-loops, no duplicates, only from a handle the node has. */
  function checkConnection(connection) {
    if (graph.isLoading()) return true;
    const { source, target } = connection;
    const sourceHandle = connection.sourceHandle ?? null;
    if (!source || !target || source === target) return false;
    const from = flow.findNode(source);
    if (!from || !flow.findNode(target)) return false;
    const handles = Array.isArray(from.data.handles) ? from.data.handles : null;
    if (handles ? !handles.includes(sourceHandle) : sourceHandle !== null) return false;
    const wanted = edgeKey(source, sourceHandle, target);
    return !flow.edges.value.some((edge) => edgeKey(edge.source, edge.sourceHandle ?? null, edge.target) === wanted);
  }

  function onConnect(connection) {
    if (isReadonly() || !checkConnection(connection)) return;
    const sourceHandle = connection.sourceHandle ?? null;
    const taken = new Set(flow.edges.value.map((edge) => edge.id));
    flow.addEdges([
      toFlowEdge({
        id: newEdgeId(connection.source, sourceHandle, connection.target, taken),
        source: connection.source,
        target: connection.target,
        sourceHandle,
        label: sourceHandle, // a branch's edge says which outcome it is, at once
      }),
    ]);
    history.commit();
  }

  function deleteSelection() {
    const nodes = flow.getSelectedNodes.value;
    const edges = flow.getSelectedEdges.value;
    if (!nodes.length && !edges.length) return;
    flow.removeEdges(edges);
    flow.removeNodes(nodes, true);
    flow.nodesSelectionActive.value = false;
    history.commit();
    selection.schedule();
  }

  /**
   * Merge `data` into a node's settings (overlays are ignored); edges from outcomes it lost are dropped, except
   * those from outcomes `renamed` (old name → new name), which follow the new name.
   */
  function updateNode(key, data, renamed = null) {
    const node = flow.findNode(key);
    if (!node || !data) return;
    const update = clone(data);
    for (const overlay of OVERLAY_KEYS) delete update[overlay];
    if ("handles" in update) update.handles = Array.isArray(update.handles) ? update.handles.map(String) : null;
    flow.updateNodeData(key, update);
    if ("handles" in update) {
      // edges from outcomes that no longer exist would point nowhere: drop them
      const handles = update.handles;
      const stale = flow.edges.value.filter(
        (edge) => edge.source === key && (handles ? !handles.includes(edge.sourceHandle) : edge.sourceHandle != null),
      );
      const taken = new Set(flow.edges.value.map((edge) => edge.id));
      const moved = stale
        .filter((edge) => handles && handles.includes(renamed?.[edge.sourceHandle]))
        .map((edge) => {
          const sourceHandle = renamed[edge.sourceHandle];
          const id = newEdgeId(key, sourceHandle, edge.target, taken);
          return toFlowEdge({ ...edge, id, sourceHandle, label: sourceHandle });
        });
      if (stale.length) flow.removeEdges(stale);
      if (moved.length) flow.addEdges(moved);
      nextTick(() => flow.updateNodeInternals([key]));
    }
    history.commit();
  }

  /** Change a node's key (its edges, overlays and selection follow); false when `newKey` is malformed or taken. */
  function renameNode(oldKey, newKey) {
    if (oldKey === newKey || !isValidKey(newKey) || !flow.findNode(oldKey) || flow.findNode(newKey)) return false;
    const plain = graph.currentGraph(false);
    for (const node of plain.nodes) if (node.id === oldKey) node.id = newKey;
    for (const edge of plain.edges) {
      if (edge.source === oldKey) edge.source = newKey;
      if (edge.target === oldKey) edge.target = newKey;
    }
    const selected = flow.getSelectedNodes.value.map((node) => (node.id === oldKey ? newKey : node.id));
    overlays.rename(oldKey, newKey);
    graph.load(plain);
    history.commit();
    selection.selectOnly(selected);
    return true;
  }

  /** Turn the selected steps off (runs pass their input on), or back on when all of them are off. */
  function toggleOff() {
    const steps = flow.getSelectedNodes.value.filter((node) => node.type !== "note");
    if (!steps.length || isReadonly()) return;
    const off = !steps.every((node) => node.data.disabled);
    for (const node of steps) {
      flow.updateNodeData(node.id, { disabled: off, spec: { ...clone(node.data.spec || {}), disabled: off } });
    }
    history.commit();
  }

  return { takenKeys, addNode, checkConnection, onConnect, deleteSelection, updateNode, renameNode, toggleOff };
}
