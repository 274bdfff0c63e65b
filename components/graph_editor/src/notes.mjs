// Sticky notes: markdown beside the steps, for the people who read the workflow (runs ignore them). A note is a
// Vue Flow node of type "note" whose id is `note:<id>` (a step's key never has a colon): no handles, never a
// step, moved like one, resized with Vue Flow's NodeResizer, edited in a textarea on double-click. Every
// change is one undoable edit, like a step's.
import { NodeResizer } from "@vue-flow/node-resizer";
import { inject, nextTick, onMounted, provide, ref } from "vue";
import { MarkdownText } from "./markdown.mjs";

export const NOTE_PREFIX = "note:";
export const NOTE_SIZE = { width: 240, height: 140 };
const LIMITS = { minWidth: 80, minHeight: 60, maxWidth: 2000, maxHeight: 2000 };
const NOTES_KEY = Symbol("flowyard-notes");
const GAP = 30; // between a new note and the steps it would otherwise cover

export function isNote(node) {
  return node?.type === "note";
}

function round(value) {
  return Math.round((Number(value) || 0) * 10) / 10;
}

function clamp(value, low, high, fallback) {
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? Math.min(Math.max(number, low), high) : fallback;
}

/** A note (plain JSON `{id, text, position, width, height}`) as a Vue Flow node. */
export function toFlowNote(note) {
  const width = clamp(note.width, LIMITS.minWidth, LIMITS.maxWidth, NOTE_SIZE.width);
  const height = clamp(note.height, LIMITS.minHeight, LIMITS.maxHeight, NOTE_SIZE.height);
  return {
    id: NOTE_PREFIX + String(note.id),
    type: "note",
    position: { x: Number(note.position?.x) || 0, y: Number(note.position?.y) || 0 },
    data: { text: typeof note.text === "string" ? note.text : "" },
    style: { width: `${width}px`, height: `${height}px` },
    dimensions: { width, height },
  };
}

/** A note node as plain JSON. */
export function plainNote(node) {
  return {
    id: node.id.slice(NOTE_PREFIX.length),
    text: node.data.text || "",
    position: { x: round(node.position.x), y: round(node.position.y) },
    width: round(node.dimensions.width || parseFloat(node.style?.width) || NOTE_SIZE.width),
    height: round(node.dimensions.height || parseFloat(node.style?.height) || NOTE_SIZE.height),
  };
}

/** A fresh note id (`taken`: the canvas's node ids, notes' with their prefix). */
export function newNoteId(taken) {
  let id;
  do id = Math.random().toString(36).slice(2, 10);
  while (taken.has(NOTE_PREFIX + id));
  return id;
}

/** Adding notes and changing their text and size (the note cards `inject` what they need: call it in `setup`). */
export function useNotes({ flow, history, selection, layout, isReadonly }) {
  const editing = ref(null); // the note whose textarea is open (a new note opens it at once)

  /** Near `start` (the middle of the view), below whatever it would cover: a new note hides no step. */
  function freeSpot(start) {
    const spot = { x: start.x, y: start.y };
    for (let tries = 0; tries < 20; tries += 1) {
      const covered = flow.nodes.value.filter(
        (node) =>
          node.position.x < spot.x + NOTE_SIZE.width &&
          node.position.x + (node.dimensions.width || 0) > spot.x &&
          node.position.y < spot.y + NOTE_SIZE.height &&
          node.position.y + (node.dimensions.height || 0) > spot.y,
      );
      if (!covered.length) break;
      spot.y = Math.max(...covered.map((node) => node.position.y + (node.dimensions.height || 0))) + GAP;
    }
    return spot;
  }

  /** Add an empty note in the middle of the view (or at `position`), select it and open its text; its id. */
  function addNote(position = null) {
    if (isReadonly()) return null;
    const id = newNoteId(new Set(flow.nodes.value.map((node) => node.id)));
    const at = position || freeSpot(layout.viewportCentre());
    flow.addNodes([toFlowNote({ id, text: "", position: at, ...NOTE_SIZE })]);
    history.commit();
    selection.selectOnly([NOTE_PREFIX + id]);
    editing.value = NOTE_PREFIX + id;
    return id;
  }

  function setText(nodeId, text) {
    const node = flow.findNode(nodeId);
    if (!node || isReadonly() || node.data.text === text) return;
    flow.updateNodeData(nodeId, { text });
    history.commit();
  }

  function resized() {
    nextTick(history.commit);
  }

  provide(NOTES_KEY, { isReadonly, editing, setText, resized });
  return { addNote };
}

export const StickyNote = {
  name: "FlowyardStickyNote",
  components: { NodeResizer, MarkdownText },
  props: ["id", "data", "selected"],
  setup(props) {
    const notes = inject(NOTES_KEY);
    const editing = ref(false);
    const draft = ref("");
    const box = ref(null);

    function edit() {
      if (notes.isReadonly()) return;
      draft.value = props.data.text || "";
      editing.value = true;
      nextTick(() => box.value?.focus());
    }

    function done() {
      if (!editing.value) return;
      editing.value = false;
      if (notes.editing.value === props.id) notes.editing.value = null;
      notes.setText(props.id, draft.value);
    }

    function onKeydown(event) {
      if (event.key === "Escape") {
        event.preventDefault();
        box.value?.blur();
      }
    }

    onMounted(() => {
      if (notes.editing.value === props.id) edit();
    });

    return { notes, editing, draft, box, edit, done, onKeydown, limits: LIMITS };
  },
  template: `
    <div class="fy-note" :class="{ 'fy-note--editing': editing }" :data-note="id" @dblclick.stop="edit">
      <NodeResizer v-if="!notes.isReadonly()" :is-visible="selected && !editing" :min-width="limits.minWidth"
                   :min-height="limits.minHeight" :max-width="limits.maxWidth" :max-height="limits.maxHeight"
                   handle-class-name="fy-note__handle" line-class-name="fy-note__line" @resize-end="notes.resized" />
      <textarea v-if="editing" ref="box" v-model="draft" class="fy-note__editor nodrag nowheel nopan"
                aria-label="Sticky note text (markdown)" maxlength="10000" placeholder="Write a note: **bold**, *em*, \`code\`, - lists, [links](https://…)"
                @blur="done" @keydown="onKeydown"></textarea>
      <div v-else-if="data.text" class="fy-note__body"><MarkdownText :text="data.text" /></div>
      <div v-else class="fy-note__empty">{{ notes.isReadonly() ? "An empty note" : "Double-click to write a note" }}</div>
    </div>
  `,
};
