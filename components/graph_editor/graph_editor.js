// Flowyard's graph editor: Vue Flow inside NiceGUI. Takes a plain graph as a prop, keeps the live graph in
// Vue Flow's store (no deep watchers) and an undo history of JSON snapshots, and emits the whole plain graph
// after every committed edit. Python talks to it through the methods returned by `setup()`.
import {
  Background,
  ConnectionMode,
  ControlButton,
  Controls,
  Handle,
  MiniMap,
  Position,
  VueFlow,
  copyKey,
  isValidKey,
  tidyLayout,
  uniqueKey,
  useVueFlow,
} from "flowyard-graph-editor";
import { computed, markRaw, nextTick, onBeforeUnmount, onMounted, ref, toRaw } from "vue";

const DRAG_TYPE = "application/flowyard-agent";
const HISTORY_LIMIT = 200;
const NODE_WIDTH = 240;
const NODE_HEIGHT = 64;
const PASTE_OFFSET = 40;
const GRID = 10;
// A large graph opens readable rather than whole: never below this zoom, anchored on its entry (left) side.
const OPEN_MIN_ZOOM = 0.5;
const FIT_OPTIONS = { padding: 0.2, maxZoom: 1.1 };

const STATUSES = {
  PENDING: { css: "pending", icon: "schedule", label: "Queued" },
  RUNNING: { css: "running", icon: "autorenew", label: "Running" },
  WAITING_APPROVAL: { css: "waiting", icon: "front_hand", label: "Waiting for approval" },
  COMPLETED: { css: "completed", icon: "check_circle", label: "Completed" },
  FAILED: { css: "failed", icon: "error", label: "Failed" },
  SKIPPED: { css: "skipped", icon: "redo", label: "Skipped" },
  CANCELLED: { css: "cancelled", icon: "cancel", label: "Cancelled" },
};
const MINIMAP_COLOURS = {
  PENDING: "#94a3b8",
  RUNNING: "#3b82f6",
  WAITING_APPROVAL: "#f59e0b",
  COMPLETED: "#22c55e",
  FAILED: "#ef4444",
  SKIPPED: "#cbd5e1",
  CANCELLED: "#475569",
};
const KIND_COLOURS = {
  transform: "#7c3aed",
  http: "#0284c7",
  branch: "#c026d3",
  approval: "#4f46e5",
  delay: "#0d9488",
};
const SPARE_COLOURS = ["#7c3aed", "#0284c7", "#c026d3", "#0d9488", "#4f46e5", "#db2777"];
// Keys that are the node's settings; everything else in `data` is kept as given and copied along.
const OVERLAY_KEYS = ["status", "problems", "note"];

// One clipboard for every editor on the page: copy in one workflow, paste in another.
let clipboard = null;

function kindColour(kind) {
  if (!kind) return SPARE_COLOURS[0];
  if (KIND_COLOURS[kind]) return KIND_COLOURS[kind];
  let hash = 0;
  for (const char of String(kind)) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return SPARE_COLOURS[hash % SPARE_COLOURS.length];
}

// What Quasar's QIcon renders for a Material icon name (`o_` outlined, `sym_r_` rounded symbols…), without
// a component per icon: hundreds of nodes open noticeably faster.
const ICON_FONTS = [
  ["sym_o_", "material-symbols-outlined"],
  ["sym_r_", "material-symbols-rounded"],
  ["sym_s_", "material-symbols-sharp"],
  ["o_", "material-icons-outlined"],
  ["r_", "material-icons-round"],
  ["s_", "material-icons-sharp"],
];

function iconFont(name) {
  const [prefix, font] = ICON_FONTS.find(([start]) => name.startsWith(start)) || ["", "material-icons"];
  return { css: `q-icon notranslate ${font}`, text: name.slice(prefix.length) };
}

function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function round(value) {
  return Math.round((Number(value) || 0) * 10) / 10;
}

function isTyping(target) {
  if (!target || target === document.body) return false;
  if (["INPUT", "TEXTAREA", "SELECT"].includes(target.nodeName)) return true;
  if (target.isContentEditable) return true;
  return !!target.closest?.('.cm-editor, .monaco-editor, .ace_editor, [role="textbox"], .nokey');
}

const AgentNode = {
  name: "FlowyardAgentNode",
  components: { Handle },
  props: ["id", "data", "selected", "connectable"],
  setup(props) {
    const handles = computed(() => (Array.isArray(props.data.handles) ? props.data.handles : null));
    const status = computed(() => STATUSES[props.data.status] || null);
    const problems = computed(() => (Array.isArray(props.data.problems) ? props.data.problems : []));
    const retries = computed(() => Number(props.data.retries) || 0);
    const cardClass = computed(() => ({
      [`fy-status--${status.value?.css}`]: !!status.value,
      "fy-node--problem": problems.value.length > 0,
      "fy-node--branch": !!handles.value,
    }));
    const iconStyle = computed(() => ({ "--fy-kind": props.data.color || kindColour(props.data.kind) }));
    const kindIcon = computed(() => iconFont(props.data.icon || "smart_toy"));
    return { Position, handles, status, problems, retries, cardClass, iconStyle, kindIcon };
  },
  template: `
    <div class="fy-node" :class="cardClass" :data-key="id" :data-status="data.status || ''">
      <div class="fy-node__stripe"></div>
      <Handle type="target" :position="Position.Left" class="fy-handle fy-handle--in" :connectable="connectable" />
      <div class="fy-node__head">
        <div class="fy-node__icon" :style="iconStyle"><i :class="kindIcon.css" aria-hidden="true">{{ kindIcon.text }}</i></div>
        <div class="fy-node__text">
          <div class="fy-node__title" :title="data.title || id">{{ data.title || id }}</div>
          <div class="fy-node__agent" :title="data.agentId">{{ data.agentId }}</div>
        </div>
        <i v-if="status" class="fy-node__status q-icon notranslate material-icons" :title="status.label">{{ status.icon }}</i>
      </div>
      <div v-if="data.needsApproval || retries > 0 || problems.length || data.note" class="fy-node__badges">
        <span v-if="problems.length" class="fy-badge fy-badge--problem" :data-problems="problems.length">
          <i class="q-icon notranslate material-icons" aria-hidden="true">error_outline</i>{{ problems.length }}
          <q-tooltip class="fy-tooltip" anchor="top middle" self="bottom middle" :offset="[0, 6]">
            <div class="fy-tooltip__title">{{ problems.length === 1 ? "1 problem" : problems.length + " problems" }}</div>
            <div v-for="(problem, index) in problems" :key="index" class="fy-tooltip__item">{{ problem }}</div>
          </q-tooltip>
        </span>
        <span v-if="data.needsApproval" class="fy-badge fy-badge--approval" title="Needs approval">
          <i class="q-icon notranslate material-icons" aria-hidden="true">front_hand</i>approval
        </span>
        <span v-if="retries > 0" class="fy-badge" :title="'Retries up to ' + retries + ' times'">↻{{ retries }}</span>
        <span v-if="data.note" class="fy-badge fy-badge--note">{{ data.note }}</span>
      </div>
      <div v-if="handles" class="fy-node__outcomes">
        <div v-for="name in handles" :key="name" class="fy-node__outcome" :data-handle="name">
          <span class="fy-node__outcome-label" :title="name">{{ name }}</span>
          <Handle type="source" :id="name" :position="Position.Right" class="fy-handle fy-handle--out"
                  :connectable="connectable" />
        </div>
      </div>
      <Handle v-else type="source" :position="Position.Right" class="fy-handle fy-handle--out"
              :connectable="connectable" />
    </div>
  `,
};

export default {
  components: { VueFlow, Background, Controls, ControlButton, MiniMap },
  props: {
    graph: Object,
    palette: Array,
    readonly: Boolean,
  },
  emits: ["change", "select", "save", "run", "help"],
  setup(props, { emit, attrs }) {
    const flowId = `flowyard-graph-${attrs.id || Math.random().toString(36).slice(2)}`;
    const flow = useVueFlow(flowId);
    const root = ref(null);
    const nodeCount = ref(0);
    const dropping = ref(false);
    // the minimap mounts once the canvas has painted: a large graph shows up sooner
    const showMinimap = ref(false);
    const nodeTypes = { agent: markRaw(AgentNode) };

    // Overlays, not edits: they survive undo/redo and are never part of the history.
    let statuses = {};
    let problems = {};
    let notes = {}; // a short text per node shown as a badge (a run's token count): not part of the graph
    let history = [];
    let historyIndex = -1;
    let pendingMove = null;
    let lastSelection = '{"nodes":[],"edges":[]}';
    let selectionScheduled = false;
    // Until the canvas is ready, the graph waits here and Python's edits wait in `queued`.
    let ready = false;
    const loaded = ref(false);
    let pendingGraph = toRaw(props.graph);  // raw: reading a reactive prop node by node is slow
    const queued = [];
    const whenReady =
      (method) =>
      (...args) => {
        if (ready) return method(...args);
        queued.push(() => method(...args));
        return undefined;
      };

    // ---- plain graph <-> Vue Flow ----------------------------------------------------------------

    /**
     * The size a card will have, until it is measured. With it, Vue Flow renders only the nodes inside the
     * view (`only-render-visible-elements`) from the first frame: unmeasured nodes would all count as
     * visible. The half pixel guarantees the measured size differs, so Vue Flow always takes the measure
     * (and the handle positions) of a node once it is rendered.
     */
    function estimatedSize(data) {
      const badges = data.needsApproval || Number(data.retries) > 0 || data.problems.length || data.note ? 24 : 0;
      const outcomes = data.handles ? 11 + 24 * data.handles.length : 0;
      return { width: NODE_WIDTH + 0.5, height: 58.5 + badges + outcomes };
    }

    function toFlowNode(node) {
      const data = { ...clone(node.data || {}) };
      data.handles = Array.isArray(data.handles) ? data.handles.map(String) : null;
      data.status = statuses[node.id] ?? null;
      data.problems = problems[node.id] ?? [];
      data.note = notes[node.id] ?? null;
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

    function toFlowEdge(edge) {
      return {
        id: String(edge.id),
        source: String(edge.source),
        target: String(edge.target),
        sourceHandle: edge.sourceHandle ?? null,
        label: edge.label ?? undefined,
        ...(edge.data ? { data: clone(edge.data) } : {}), // opaque to the canvas (an edge's condition), kept
      };
    }

    function plainNode(node, withOverlays) {
      const data = {};
      for (const [key, value] of Object.entries(node.data || {})) {
        if (!OVERLAY_KEYS.includes(key)) data[key] = value;
      }
      const plain = { id: node.id, position: { x: round(node.position.x), y: round(node.position.y) }, data: clone(data) };
      if (withOverlays) {
        plain.data.status = statuses[node.id] ?? null;
        plain.data.problems = problems[node.id] ?? [];
      }
      return plain;
    }

    function plainEdge(edge) {
      return {
        id: edge.id,
        source: edge.source,
        target: edge.target,
        sourceHandle: edge.sourceHandle ?? null,
        label: typeof edge.label === "string" ? edge.label : null,
        ...(edge.data ? { data: clone(edge.data) } : {}),
      };
    }

    function currentGraph(withOverlays = true) {
      return {
        nodes: flow.nodes.value.map((node) => plainNode(node, withOverlays)),
        edges: flow.edges.value.map(plainEdge),
      };
    }

    // Vue Flow runs `isValidConnection` on every edge it is given, loaded ones too: loading skips our rules
    let loading = false;

    function load(graph) {
      const nodes = (graph?.nodes || []).filter((node) => node && node.id != null).map(toFlowNode);
      const ids = new Set(nodes.map((node) => node.id));
      const edges = (graph?.edges || [])
        .filter((edge) => edge && ids.has(String(edge.source)) && ids.has(String(edge.target)))
        .map(toFlowEdge);
      loading = true;
      try {
        flow.setNodes(nodes);
        flow.setEdges(edges);
      } finally {
        loading = false;
      }
      nodeCount.value = nodes.length;
    }

    // ---- history ----------------------------------------------------------------------------------

    function snapshot() {
      return JSON.stringify(currentGraph(false));
    }

    function resetHistory() {
      history = [snapshot()];
      historyIndex = 0;
    }

    function emitChange() {
      nodeCount.value = flow.nodes.value.length;
      emit("change", currentGraph(true));
    }

    /** Record the current graph as one undoable step and tell Python; a no-op when nothing changed. */
    function commit() {
      clearTimeout(pendingMove);
      pendingMove = null;
      const state = snapshot();
      if (state === history[historyIndex]) return false;
      history.splice(historyIndex + 1);
      history.push(state);
      if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT);
      historyIndex = history.length - 1;
      emitChange();
      return true;
    }

    function restore(index) {
      const selected = new Set(flow.getSelectedNodes.value.map((node) => node.id));
      load(JSON.parse(history[index]));
      historyIndex = index;
      const reselect = flow.nodes.value.filter((node) => selected.has(node.id));
      if (reselect.length) flow.addSelectedNodes(reselect);
      emitChange();
      scheduleSelection();
    }

    function undo() {
      if (props.readonly) return;
      if (pendingMove) commit();
      if (historyIndex > 0) restore(historyIndex - 1);
    }

    function redo() {
      if (props.readonly) return;
      if (historyIndex < history.length - 1) restore(historyIndex + 1);
    }

    // ---- selection --------------------------------------------------------------------------------

    function scheduleSelection() {
      if (selectionScheduled) return;
      selectionScheduled = true;
      queueMicrotask(() => {
        selectionScheduled = false;
        const selection = {
          nodes: flow.getSelectedNodes.value.map((node) => node.id),
          edges: flow.getSelectedEdges.value.map((edge) => edge.id),
        };
        const text = JSON.stringify(selection);
        if (text === lastSelection) return;
        lastSelection = text;
        emit("select", selection);
      });
    }

    function clearSelection() {
      flow.removeSelectedElements();
      flow.nodesSelectionActive.value = false;
    }

    function selectOnly(ids) {
      clearSelection();
      const wanted = new Set(ids);
      const nodes = flow.nodes.value.filter((node) => wanted.has(node.id));
      if (nodes.length) flow.addSelectedNodes(nodes);
      scheduleSelection();
    }

    function selectAll() {
      flow.addSelectedNodes(flow.nodes.value);
      flow.addSelectedEdges(flow.edges.value);
      scheduleSelection();
    }

    function onNodesChange(changes) {
      let moved = false;
      for (const change of changes) {
        if (change.type === "select" || change.type === "remove") scheduleSelection();
        // arrow keys on a selected node move it: a position change outside a drag (a drag ends in node-drag-stop)
        if (change.type === "position" && change.position && change.dragging === false) moved = true;
      }
      if (moved && !props.readonly) {
        clearTimeout(pendingMove);
        pendingMove = setTimeout(commit, 400);
      }
    }

    function onEdgesChange(changes) {
      if (changes.some((change) => change.type === "select" || change.type === "remove")) scheduleSelection();
    }

    // ---- edits --------------------------------------------------------------------------------------

    function takenKeys() {
      return new Set(flow.nodes.value.map((node) => node.id));
    }

    function paletteEntry(entry) {
      const known = (props.palette || []).find((item) => item.agentId === entry.agentId);
      return { ...(known || {}), ...entry };
    }

    function viewportCentre() {
      const bounds = root.value?.getBoundingClientRect();
      if (!bounds) return { x: 0, y: 0 };
      const centre = flow.screenToFlowCoordinate({ x: bounds.left + bounds.width / 2, y: bounds.top + bounds.height / 2 });
      const taken = flow.nodes.value;
      let position = { x: centre.x - NODE_WIDTH / 2, y: centre.y - NODE_HEIGHT / 2 };
      // do not stack a new node exactly on top of the previous one
      while (taken.some((node) => Math.abs(node.position.x - position.x) < 8 && Math.abs(node.position.y - position.y) < 8)) {
        position = { x: position.x + PASTE_OFFSET, y: position.y + PASTE_OFFSET };
      }
      return position;
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
      const data = {
        title: item.title || item.agentId || nodeKey,
        agentId: item.agentId || "",
        kind: item.kind || "",
        icon: item.icon || "smart_toy",
        handles: Array.isArray(item.handles) ? [...item.handles] : null,
        needsApproval: !!item.needsApproval,
        retries: Number(item.retries) || 0,
        spec: clone(item.spec) || {},
      };
      flow.addNodes([toFlowNode({ id: nodeKey, position: position || viewportCentre(), data })]);
      commit();
      return nodeKey;
    }

    function edgeKey(source, sourceHandle, target) {
      return `${source}|${sourceHandle ?? ""}|${target}`;
    }

    function checkConnection(connection) {
      if (loading) return true;
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

    function newEdgeId(source, sourceHandle, target, taken) {
      const base = sourceHandle ? `${source}.${sourceHandle}->${target}` : `${source}->${target}`;
      let id = base;
      for (let i = 2; taken.has(id); i += 1) id = `${base}#${i}`;
      taken.add(id);
      return id;
    }

    function onConnect(connection) {
      if (props.readonly || !checkConnection(connection)) return;
      const sourceHandle = connection.sourceHandle ?? null;
      const taken = new Set(flow.edges.value.map((edge) => edge.id));
      flow.addEdges([
        toFlowEdge({
          id: newEdgeId(connection.source, sourceHandle, connection.target, taken),
          source: connection.source,
          target: connection.target,
          sourceHandle,
        }),
      ]);
      commit();
    }

    function deleteSelection() {
      const nodes = flow.getSelectedNodes.value;
      const edges = flow.getSelectedEdges.value;
      if (!nodes.length && !edges.length) return;
      flow.removeEdges(edges);
      flow.removeNodes(nodes, true);
      flow.nodesSelectionActive.value = false;
      commit();
      scheduleSelection();
    }

    function copySelection() {
      const nodes = flow.getSelectedNodes.value;
      if (!nodes.length) return false;
      const ids = new Set(nodes.map((node) => node.id));
      clipboard = {
        nodes: nodes.map((node) => plainNode(node, false)),
        edges: flow.edges.value.filter((edge) => ids.has(edge.source) && ids.has(edge.target)).map(plainEdge),
      };
      return true;
    }

    function paste() {
      if (!clipboard || !clipboard.nodes.length) return [];
      const taken = takenKeys();
      const renamed = new Map();
      const nodes = clipboard.nodes.map((node) => {
        const key = copyKey(node.id, taken);
        taken.add(key);
        renamed.set(node.id, key);
        return { ...clone(node), id: key, position: { x: node.position.x + PASTE_OFFSET, y: node.position.y + PASTE_OFFSET } };
      });
      const edgeIds = new Set(flow.edges.value.map((edge) => edge.id));
      const edges = clipboard.edges.map((edge) => {
        const source = renamed.get(edge.source);
        const target = renamed.get(edge.target);
        return { ...edge, id: newEdgeId(source, edge.sourceHandle, target, edgeIds), source, target };
      });
      // the next paste lands one step further, so repeated pastes cascade instead of stacking
      clipboard = {
        nodes: clipboard.nodes.map((node) => ({
          ...node,
          position: { x: node.position.x + PASTE_OFFSET, y: node.position.y + PASTE_OFFSET },
        })),
        edges: clipboard.edges,
      };
      clearSelection();
      flow.addNodes(nodes.map(toFlowNode));
      flow.addEdges(edges.map(toFlowEdge));
      commit();
      selectOnly(nodes.map((node) => node.id));
      return nodes.map((node) => node.id);
    }

    function cutSelection() {
      if (copySelection()) deleteSelection();
    }

    function tidy() {
      if (props.readonly || !flow.nodes.value.length) return;
      const positions = tidyLayout(
        flow.nodes.value.map((node) => ({ id: node.id, width: node.dimensions.width, height: node.dimensions.height })),
        flow.edges.value,
      );
      for (const node of flow.nodes.value) {
        const position = positions.get(node.id);
        if (position) node.position = position;
      }
      commit();
      nextTick(() => fitView());
    }

    function updateNode(key, data) {
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
        if (stale.length) flow.removeEdges(stale);
        nextTick(() => flow.updateNodeInternals([key]));
      }
      commit();
    }

    function renameNode(oldKey, newKey) {
      if (oldKey === newKey || !isValidKey(newKey) || !flow.findNode(oldKey) || flow.findNode(newKey)) return false;
      const graph = currentGraph(false);
      for (const node of graph.nodes) if (node.id === oldKey) node.id = newKey;
      for (const edge of graph.edges) {
        if (edge.source === oldKey) edge.source = newKey;
        if (edge.target === oldKey) edge.target = newKey;
      }
      const selected = flow.getSelectedNodes.value.map((node) => (node.id === oldKey ? newKey : node.id));
      for (const overlay of [statuses, problems]) {
        if (oldKey in overlay) {
          overlay[newKey] = overlay[oldKey];
          delete overlay[oldKey];
        }
      }
      load(graph);
      commit();
      selectOnly(selected);
      return true;
    }

    // ---- Python-facing methods (not edits) --------------------------------------------------------------

    function setGraph(graph) {
      if (!ready) {
        pendingGraph = graph;
        return;
      }
      statuses = {};
      problems = {};
      notes = {};
      for (const node of graph?.nodes || []) {
        if (node?.data?.status) statuses[node.id] = node.data.status;
        if (Array.isArray(node?.data?.problems) && node.data.problems.length) problems[node.id] = node.data.problems;
      }
      clearTimeout(pendingMove);
      pendingMove = null;
      // the view first, then the nodes: Vue Flow renders only what is inside it, once
      openView(graph);
      load(graph);
      resetHistory();
      scheduleSelection();
    }

    function setStatuses(update) {
      for (const [key, status] of Object.entries(update || {})) {
        if (status) statuses[key] = status;
        else delete statuses[key];
        if (flow.findNode(key)) flow.updateNodeData(key, { status: status || null });
      }
    }

    function setProblems(all) {
      const next = {};
      for (const [key, list] of Object.entries(all || {})) if (Array.isArray(list) && list.length) next[key] = list.map(String);
      const touched = new Set([...Object.keys(problems), ...Object.keys(next)]);
      problems = next;
      for (const key of touched) if (flow.findNode(key)) flow.updateNodeData(key, { problems: problems[key] || [] });
    }

    function setNotes(update) {
      for (const [key, note] of Object.entries(update || {})) {
        if (note) notes[key] = String(note);
        else delete notes[key];
        if (flow.findNode(key)) flow.updateNodeData(key, { note: notes[key] ?? null });
      }
    }

    function selectNode(key) {
      const node = flow.findNode(key);
      if (!node) return;
      selectOnly([key]);
      whenMeasured(() => {
        const width = node.dimensions.width || NODE_WIDTH;
        const height = node.dimensions.height || NODE_HEIGHT;
        const zoom = Math.max(flow.viewport.value.zoom, 0.9);
        flow.setCenter(node.position.x + width / 2, node.position.y + height / 2, { zoom, duration: 300 });
      });
    }

    function fitView() {
      flow.fitView({ ...FIT_OPTIONS, duration: 0 });
    }

    /** The view a graph opens with: all of it when that is readable, else its entry side at a readable zoom. */
    function openView(graph) {
      const nodes = (graph?.nodes || []).filter((node) => node && node.id != null).map(toFlowNode);
      const width = flow.dimensions.value.width;
      const height = flow.dimensions.value.height;
      if (!width || !height) return;
      if (!nodes.length) {
        flow.setViewport({ x: width / 2, y: height / 2, zoom: 1 });
        return;
      }
      let [left, top, right, bottom] = [Infinity, Infinity, -Infinity, -Infinity];
      for (const node of nodes) {
        left = Math.min(left, node.position.x);
        top = Math.min(top, node.position.y);
        right = Math.max(right, node.position.x + node.dimensions.width);
        bottom = Math.max(bottom, node.position.y + node.dimensions.height);
      }
      const padding = 1 + FIT_OPTIONS.padding;
      const fitZoom = Math.min(width / ((right - left) * padding), height / ((bottom - top) * padding));
      if (fitZoom >= OPEN_MIN_ZOOM) {
        const zoom = Math.min(fitZoom, FIT_OPTIONS.maxZoom);
        flow.setViewport({
          x: width / 2 - ((left + right) / 2) * zoom,
          y: height / 2 - ((top + bottom) / 2) * zoom,
          zoom,
        });
        return;
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
      flow.setViewport({ x: 40 - left * zoom, y: height / 2 - middle * zoom, zoom });
    }

    /** The graph loads once the canvas has a size (Vue Flow's pane-ready): see `openView`. */
    function onPaneReady() {
      ready = true;
      setGraph(pendingGraph);
      loaded.value = true;
      pendingGraph = null;
      for (const call of queued.splice(0)) call();
      // two frames: the canvas paints before the minimap mounts
      requestAnimationFrame(() => requestAnimationFrame(() => (showMinimap.value = true)));
    }

    function getGraph() {
      return currentGraph(true);
    }

    /** Run `callback` once every node has been measured (new nodes have no size until the next frames). */
    function whenMeasured(callback, frames = 30) {
      const ready = flow.nodes.value.every((node) => node.dimensions.width && node.dimensions.height);
      if (ready || frames <= 0) callback();
      else requestAnimationFrame(() => whenMeasured(callback, frames - 1));
    }

    // ---- drag and drop from the page's palette -------------------------------------------------------

    function acceptsDrop(event) {
      return !props.readonly && [...(event.dataTransfer?.types || [])].includes(DRAG_TYPE);
    }

    function onDragOver(event) {
      if (!acceptsDrop(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      dropping.value = true;
    }

    function onDragLeave(event) {
      if (!root.value?.contains(event.relatedTarget)) dropping.value = false;
    }

    function onDrop(event) {
      dropping.value = false;
      if (!acceptsDrop(event)) return;
      event.preventDefault();
      let entry;
      try {
        entry = JSON.parse(event.dataTransfer.getData(DRAG_TYPE));
      } catch {
        return;
      }
      if (!entry || typeof entry !== "object") return;
      const point = flow.screenToFlowCoordinate({ x: event.clientX, y: event.clientY });
      const snap = (value) => Math.round(value / GRID) * GRID;
      const key = addNode(entry, { x: snap(point.x - NODE_WIDTH / 2), y: snap(point.y - NODE_HEIGHT / 2) });
      root.value?.focus({ preventScroll: true });
      selectOnly([key]);
    }

    // ---- keyboard -----------------------------------------------------------------------------------

    function inScope(event) {
      if (event.defaultPrevented || isTyping(event.composedPath?.()[0] || event.target)) return false;
      const active = document.activeElement;
      return !active || active === document.body || !!root.value?.contains(active);
    }

    function onKeyDown(event) {
      if (!inScope(event)) return;
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      const handled = () => {
        event.preventDefault();
        event.stopPropagation();
      };
      if (mod && !event.altKey && key === "s") return handled(), emit("save");
      if (mod && key === "Enter") return handled(), emit("run");
      if (!mod && !event.altKey && event.key === "?") return handled(), emit("help");
      if (mod && !event.shiftKey && key === "a") return handled(), selectAll();
      if (mod && !event.shiftKey && key === "c") return copySelection();
      if (props.readonly) return;
      if (mod && !event.shiftKey && key === "x") return handled(), cutSelection();
      if (mod && !event.shiftKey && key === "v") return handled(), paste();
      if (mod && !event.shiftKey && key === "z") return handled(), undo();
      if (mod && ((event.shiftKey && key === "z") || (!event.shiftKey && key === "y"))) return handled(), redo();
      if (!mod && !event.altKey && (key === "Delete" || key === "Backspace")) return handled(), deleteSelection();
      if (event.shiftKey && event.altKey && !mod && event.code === "KeyT") return handled(), tidy();
    }

    function onPointerDownCapture(event) {
      // d3-zoom cancels mousedown, so clicking the canvas would not take focus from an input elsewhere
      if (!root.value?.contains(document.activeElement) && !isTyping(event.target)) {
        root.value?.focus({ preventScroll: true });
      }
    }

    onMounted(() => document.addEventListener("keydown", onKeyDown));
    onBeforeUnmount(() => {
      document.removeEventListener("keydown", onKeyDown);
      clearTimeout(pendingMove);
    });

    const minimapColour = (node) => MINIMAP_COLOURS[node.data?.status] || kindColour(node.data?.kind);

    return {
      // template
      root,
      flowId,
      nodeTypes,
      nodeCount,
      dropping,
      showMinimap,
      loaded,
      fitOptions: FIT_OPTIONS,
      grid: GRID,
      ConnectionMode,
      minimapColour,
      checkConnection,
      onConnect,
      onNodesChange,
      onEdgesChange,
      onDragOver,
      onDragLeave,
      onDrop,
      onPointerDownCapture,
      onPaneReady,
      commit,
      // methods for Python (run_method)
      setGraph,
      getGraph: whenReady(getGraph),
      setStatuses: whenReady(setStatuses),
      setProblems: whenReady(setProblems),
      setNotes: whenReady(setNotes),
      updateNode: whenReady(updateNode),
      renameNode: whenReady(renameNode),
      addNode: whenReady(addNode),
      selectNode: whenReady(selectNode),
      selectAll: whenReady(selectAll),
      fitView: whenReady(fitView),
      tidy: whenReady(tidy),
      undo: whenReady(undo),
      redo: whenReady(redo),
      paste: whenReady(paste),
      copySelection: whenReady(copySelection),
      deleteSelection: whenReady(deleteSelection),
    };
  },
  template: `
    <div ref="root" class="fy-editor" :class="{ 'fy-readonly': readonly, 'fy-dropping': dropping }" tabindex="-1"
         @dragover="onDragOver" @dragleave="onDragLeave" @drop="onDrop" @pointerdown.capture="onPointerDownCapture">
      <VueFlow
        :id="flowId"
        :node-types="nodeTypes"
        :connection-mode="ConnectionMode.Strict"
        :is-valid-connection="checkConnection"
        :nodes-draggable="!readonly"
        :nodes-connectable="!readonly"
        :edges-updatable="false"
        :elements-selectable="true"
        :delete-key-code="null"
        selection-key-code="Shift"
        :multi-selection-key-code="['Shift', 'Control', 'Meta']"
        :min-zoom="0.1"
        :max-zoom="2"
        :snap-to-grid="true"
        :snap-grid="[grid, grid]"
        :only-render-visible-elements="true"
        :elevate-edges-on-select="true"
        :zoom-on-double-click="false"
        @pane-ready="onPaneReady"
        @connect="onConnect"
        @node-drag-stop="commit"
        @nodes-change="onNodesChange"
        @edges-change="onEdgesChange"
      >
        <Background variant="dots" :gap="20" :size="1.4" />
        <Controls position="bottom-left" :show-interactive="false" :fit-view-params="fitOptions">
          <ControlButton v-if="!readonly" title="Tidy layout (Shift+Alt+T)" class="fy-tidy" @click="tidy">
            <q-icon name="account_tree" />
          </ControlButton>
        </Controls>
        <MiniMap v-if="showMinimap" position="bottom-right" pannable zoomable :node-color="minimapColour" :node-border-radius="6"
                 :width="180" :height="120" />
      </VueFlow>
      <div v-if="loaded && nodeCount === 0 && !readonly" class="fy-empty">
        <q-icon name="account_tree" class="fy-empty__icon" />
        <div class="fy-empty__title">An empty workflow</div>
        <div class="fy-empty__hint">Drag an agent from the palette onto the canvas to start.</div>
      </div>
    </div>
  `,
};
