// The canvas's keyboard shortcuts. They act while the canvas (or nothing) has the focus and nobody is typing.
import { onBeforeUnmount, onMounted } from "vue";

/**
 * Every shortcut, one entry per key combination, in the order of the `?` help. The Python side shows the same
 * list (`components/graph_editor/shortcuts.py`); `tests/unit/test_editor_shortcuts.py` checks that they agree.
 *
 * - `keys`: as shown to people; "Ctrl" is Ctrl or ⌘.
 * - `does`: what it does.
 * - `action`: what it calls; none where Vue Flow does it (box select: `selection-key-code`).
 * - `edit`: does nothing when read-only.
 * - `ignores`: modifiers that may be held as well; any other modifier makes it a different combination.
 * - `native`: the browser's own handling still runs (Ctrl+C still copies selected text).
 * - `listed: false`: works but is not in the help.
 */
export const SHORTCUTS = [
  { keys: "Delete", does: "delete the selection", action: "deleteSelection", edit: true, ignores: "Shift" },
  { keys: "Backspace", does: "delete the selection", action: "deleteSelection", edit: true, ignores: "Shift" },
  { keys: "Ctrl+C", does: "copy the selected steps and notes", action: "copySelection", ignores: "Alt", native: true },
  { keys: "Ctrl+X", does: "cut the selected steps", action: "cutSelection", edit: true, ignores: "Alt", listed: false },
  { keys: "Ctrl+V", does: "paste steps and notes", action: "paste", edit: true, ignores: "Alt" },
  { keys: "Ctrl+Z", does: "undo", action: "undo", edit: true, ignores: "Alt" },
  { keys: "Ctrl+Shift+Z", does: "redo", action: "redo", edit: true, ignores: "Alt" },
  { keys: "Ctrl+Y", does: "redo", action: "redo", edit: true, ignores: "Alt", listed: false },
  { keys: "Ctrl+S", does: "save", action: "save", ignores: "Shift" },
  { keys: "Ctrl+Enter", does: "run", action: "run", ignores: "Shift+Alt" },
  { keys: "Ctrl+A", does: "select all", action: "selectAll", ignores: "Alt" },
  { keys: "Shift+drag", does: "box select" },
  { keys: "Shift+Alt+T", does: "tidy the layout", action: "tidy", edit: true },
  { keys: "D", does: "turn the selected steps off or on", action: "toggleOff", edit: true },
  { keys: "Shift+S", does: "add a sticky note (double-click it to write)", action: "addNote", edit: true },
  // "+" is Shift and "=" on many layouts, a key of its own on the number pad
  { keys: "+", does: "add a step: search the palette, Enter adds", action: "add", edit: true, ignores: "Shift" },
  { keys: "[", does: "hide or show the palette", action: "togglePalette", edit: true },
  { keys: "]", does: "hide or show the inspector", action: "toggleInspector" },
  { keys: "?", does: "this list", action: "help", ignores: "Shift" },
];

const MODIFIERS = ["Ctrl", "Shift", "Alt"];

function pressedKey(event) {
  return event.key.length === 1 ? event.key.toLowerCase() : event.key;
}

/** Whether `event` (whose key is `key`, see `pressedKey`) is the combination `shortcut.keys`. */
function matches(shortcut, event, key) {
  const parts = shortcut.keys.split("+");
  let wanted = parts.pop();
  if (wanted === "") {
    // the key is "+" itself ("+", "Ctrl++")
    parts.pop();
    wanted = "+";
  }
  const pressed = { Ctrl: event.ctrlKey || event.metaKey, Shift: event.shiftKey, Alt: event.altKey };
  const ignored = shortcut.ignores?.split("+") || [];
  if (MODIFIERS.some((name) => !ignored.includes(name) && pressed[name] !== parts.includes(name))) return false;
  // Alt changes the character a letter types (on macOS): with Alt, the physical key counts
  if (parts.includes("Alt")) return event.code === `Key${wanted}`;
  return key === (wanted.length === 1 ? wanted.toLowerCase() : wanted);
}

function isTyping(target) {
  if (!target || target === document.body) return false;
  if (["INPUT", "TEXTAREA", "SELECT"].includes(target.nodeName)) return true;
  if (target.isContentEditable) return true;
  return !!target.closest?.('.cm-editor, .monaco-editor, .ace_editor, [role="textbox"], .nokey');
}

/** Shortcuts for the canvas in `root`: `actions` maps each shortcut's `action` to a function. */
export function useKeyboard({ root, isReadonly, actions }) {
  function inScope(event) {
    if (event.defaultPrevented || isTyping(event.composedPath?.()[0] || event.target)) return false;
    const active = document.activeElement;
    return !active || active === document.body || !!root.value?.contains(active);
  }

  function onKeyDown(event) {
    if (!inScope(event)) return;
    const key = pressedKey(event);
    const shortcut = SHORTCUTS.find((entry) => entry.action && matches(entry, event, key));
    if (!shortcut || (shortcut.edit && isReadonly())) return;
    if (!shortcut.native) {
      event.preventDefault();
      event.stopPropagation();
    }
    actions[shortcut.action]();
  }

  function onPointerDownCapture(event) {
    // d3-zoom cancels mousedown, so clicking the canvas would not take focus from an input elsewhere
    if (!root.value?.contains(document.activeElement) && !isTyping(event.target)) {
      root.value?.focus({ preventScroll: true });
    }
  }

  onMounted(() => document.addEventListener("keydown", onKeyDown));
  onBeforeUnmount(() => document.removeEventListener("keydown", onKeyDown));

  return { onPointerDownCapture };
}
