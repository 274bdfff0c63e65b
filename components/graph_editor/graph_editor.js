// Flowyard's graph editor: Vue Flow inside NiceGUI. Takes a plain graph as a prop, keeps the live graph in
// Vue Flow's store (no deep watchers) and an undo history of JSON snapshots, and emits the whole plain graph
// after every committed edit. Python talks to it through the methods returned by `setup()`; the work is done
// by the composables in `src/` (bundled as "flowyard-graph-editor"), which `setup()` wires together.
import {
  AgentNode,
  Background,
  ConnectionMode,
  ControlButton,
  Controls,
  FIT_OPTIONS,
  GRID,
  MiniMap,
  StickyNote,
  VueFlow,
  minimapColour,
  useClipboard,
  useDragDrop,
  useEdits,
  useGraph,
  useHistory,
  useKeyboard,
  useLayout,
  useNotes,
  useOverlays,
  useReady,
  useSelection,
  useView,
  useVueFlow,
} from "flowyard-graph-editor";
import { markRaw, ref, toRaw } from "vue";

export default {
  components: { VueFlow, Background, Controls, ControlButton, MiniMap },
  props: {
    graph: Object,
    palette: Array,
    readonly: Boolean,
    // false: the wheel scrolls the page around the canvas (a run's page) and Ctrl+wheel zooms
    wheelZoom: { type: Boolean, default: true },
  },
  emits: ["change", "select", "save", "run", "help", "add", "panel"],
  setup(props, { emit, attrs }) {
    const flowId = `flowyard-graph-${attrs.id || Math.random().toString(36).slice(2)}`;
    const flow = useVueFlow(flowId);
    const root = ref(null);
    const isReadonly = () => props.readonly;

    const overlays = useOverlays(flow);
    const graph = useGraph(flow, overlays);
    const selection = useSelection(flow, emit);
    const history = useHistory({ flow, graph, selection, emit, isReadonly });
    const layout = useLayout({ flow, root, graph, history, selection, isReadonly });
    const palette = () => props.palette;
    const edits = useEdits({ flow, graph, overlays, history, selection, layout, palette, isReadonly });
    const clipboard = useClipboard({ flow, graph, history, selection, edits });
    const dragdrop = useDragDrop({ flow, root, edits, selection, isReadonly });
    const notes = useNotes({ flow, history, selection, layout, isReadonly });

    /** Replace everything: overlays from the graph, the view first (Vue Flow renders only what is inside it). */
    function loadGraph(plain) {
      overlays.reset(plain);
      history.cancelMove();
      layout.openView(plain);
      graph.load(plain);
      history.reset();
      selection.schedule();
    }
    // raw: reading a reactive prop node by node is slow
    const { loaded, showMinimap, whenReady, setGraph, onPaneReady } = useReady(toRaw(props.graph), loadGraph);
    const view = useView({ root, painted: showMinimap, wheelZoom: () => props.wheelZoom });

    const { onPointerDownCapture } = useKeyboard({
      root,
      isReadonly,
      actions: {
        save: () => emit("save"),
        run: () => emit("run"),
        help: () => emit("help"),
        add: () => emit("add"),
        togglePalette: () => emit("panel", "palette"),
        toggleInspector: () => emit("panel", "inspector"),
        selectAll: selection.selectAll,
        copySelection: clipboard.copySelection,
        cutSelection: clipboard.cutSelection,
        paste: clipboard.paste,
        undo: history.undo,
        redo: history.redo,
        deleteSelection: edits.deleteSelection,
        tidy: layout.tidy,
        toggleOff: edits.toggleOff,
        addNote: () => notes.addNote(),
      },
    });

    function onNodesChange(changes) {
      selection.onNodesChange(changes);
      history.onNodesChange(changes);
    }

    return {
      // template
      root,
      flowId,
      nodeTypes: { agent: markRaw(AgentNode), note: markRaw(StickyNote) },
      nodeCount: graph.nodeCount,
      dropping: dragdrop.dropping,
      minimapShown: view.minimapShown,
      minimapSize: view.minimapSize,
      toggleMinimap: view.toggleMinimap,
      wheelHint: view.wheelHint,
      onWheel: view.onWheel,
      loaded,
      fitOptions: FIT_OPTIONS,
      grid: GRID,
      ConnectionMode,
      minimapColour,
      checkConnection: edits.checkConnection,
      onConnect: edits.onConnect,
      onNodesChange,
      onEdgesChange: selection.onEdgesChange,
      onDragOver: dragdrop.onDragOver,
      onDragLeave: dragdrop.onDragLeave,
      onDrop: dragdrop.onDrop,
      onPointerDownCapture,
      onPaneReady,
      commit: history.commit,
      addNote: whenReady(() => notes.addNote()),
      toggleOff: whenReady(edits.toggleOff),
      // methods for Python (run_method)
      setGraph,
      getGraph: whenReady(() => graph.currentGraph(true)),
      setStatuses: whenReady(overlays.setStatuses),
      setProblems: whenReady(overlays.setProblems),
      setNotes: whenReady(overlays.setNotes),
      updateNode: whenReady(edits.updateNode),
      renameNode: whenReady(edits.renameNode),
      addNode: whenReady(edits.addNode),
      selectNode: whenReady(layout.selectNode),
      selectAll: whenReady(selection.selectAll),
      fitView: whenReady(layout.fitView),
      tidy: whenReady(layout.tidy),
      undo: whenReady(history.undo),
      redo: whenReady(history.redo),
      paste: whenReady(clipboard.paste),
      copySelection: whenReady(clipboard.copySelection),
      deleteSelection: whenReady(edits.deleteSelection),
      focus: () => root.value?.focus({ preventScroll: true }),
    };
  },
  template: `
    <div ref="root" class="fy-editor" :class="{ 'fy-readonly': readonly, 'fy-dropping': dropping }" tabindex="-1"
         @dragover="onDragOver" @dragleave="onDragLeave" @drop="onDrop" @pointerdown.capture="onPointerDownCapture"
         @wheel.passive="onWheel">
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
        :zoom-on-scroll="wheelZoom"
        :prevent-scrolling="wheelZoom"
        @pane-ready="onPaneReady"
        @connect="onConnect"
        @node-drag-stop="commit"
        @nodes-change="onNodesChange"
        @edges-change="onEdgesChange"
      >
        <Background variant="dots" :gap="20" :size="1.4" />
        <Controls position="bottom-left" :show-interactive="false" :fit-view-params="fitOptions">
          <template #icon-zoom-in><q-icon name="add" /><span class="fy-visually-hidden">Zoom in</span></template>
          <template #icon-zoom-out><q-icon name="remove" /><span class="fy-visually-hidden">Zoom out</span></template>
          <template #icon-fit-view>
            <q-icon name="fit_screen" /><span class="fy-visually-hidden">Fit the view</span>
          </template>
          <ControlButton v-if="!readonly" title="Tidy layout (Shift+Alt+T)" class="fy-tidy" @click="tidy">
            <q-icon name="account_tree" />
          </ControlButton>
          <ControlButton v-if="!readonly" title="Add a sticky note (Shift+S)" class="fy-add-note" @click="addNote">
            <q-icon name="sticky_note_2" /><span class="fy-visually-hidden">Add a sticky note</span>
          </ControlButton>
          <ControlButton :title="minimapShown ? 'Hide the minimap' : 'Show the minimap'" class="fy-minimap-toggle"
                         :class="{ 'fy-minimap-toggle--on': minimapShown }" @click="toggleMinimap">
            <q-icon name="map" />
          </ControlButton>
        </Controls>
        <MiniMap v-if="minimapShown" position="bottom-right" pannable zoomable :node-color="minimapColour"
                 :node-border-radius="6" :width="minimapSize.width" :height="minimapSize.height" />
      </VueFlow>
      <div v-if="loaded && nodeCount === 0 && !readonly" class="fy-empty">
        <q-icon name="account_tree" class="fy-empty__icon" />
        <div class="fy-empty__title">An empty workflow</div>
        <div class="fy-empty__hint">Drag an agent from the palette onto the canvas, or press +, to start.</div>
      </div>
      <div v-if="wheelHint" class="fy-wheel-hint" role="status">Ctrl + wheel to zoom</div>
    </div>
  `,
};
