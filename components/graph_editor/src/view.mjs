// What the canvas shows around the graph: the minimap, small and in its corner, hidden on a narrow canvas
// unless asked for (the choice kept in the browser, one for wide and one for narrow canvases); and, on a
// canvas inside a scrolling page (a run's), the wheel left to the page with a hint that Ctrl+wheel zooms.
import { computed, onBeforeUnmount, onMounted, ref } from "vue";

const MINIMAP_KEY = "flowyard.minimap";
/** Below this canvas size the minimap would cover the graph: hidden unless asked for. */
const ROOMY = { width: 640, height: 400 };
const MINIMAP = { wide: { width: 160, height: 100 }, narrow: { width: 120, height: 76 } };
const HINT_MS = 1500;

function storedChoices() {
  try {
    const value = JSON.parse(window.localStorage.getItem(MINIMAP_KEY) || "{}");
    return value && typeof value === "object" ? value : {};
  } catch {
    return {};
  }
}

/** `painted`: a ref that turns true once the graph has painted (the minimap mounts after it). */
export function useView({ root, painted, wheelZoom }) {
  const size = ref({ width: 0, height: 0 });
  const choices = ref(storedChoices());
  const sizeClass = computed(() =>
    size.value.width >= ROOMY.width && size.value.height >= ROOMY.height ? "wide" : "narrow",
  );
  const minimapShown = computed(() => painted.value && (choices.value[sizeClass.value] ?? sizeClass.value === "wide"));
  const minimapSize = computed(() => MINIMAP[sizeClass.value]);
  const wheelHint = ref(false);
  let hintTimer = null;
  let observer = null;

  /** Show or hide the minimap, remembered for canvases of this size (wide or narrow). */
  function toggleMinimap() {
    choices.value = { ...choices.value, [sizeClass.value]: !minimapShown.value };
    try {
      window.localStorage.setItem(MINIMAP_KEY, JSON.stringify(choices.value));
    } catch {
      // storage refused (private mode): the choice holds for this page
    }
  }

  /** A wheel over a canvas that leaves the wheel to the page: say how to zoom. */
  function onWheel(event) {
    if (wheelZoom() || event.ctrlKey || event.metaKey) return;
    wheelHint.value = true;
    clearTimeout(hintTimer);
    hintTimer = setTimeout(() => (wheelHint.value = false), HINT_MS);
  }

  onMounted(() => {
    observer = new ResizeObserver(([entry]) => {
      size.value = { width: entry.contentRect.width, height: entry.contentRect.height };
    });
    if (root.value) observer.observe(root.value);
  });
  onBeforeUnmount(() => {
    observer?.disconnect();
    clearTimeout(hintTimer);
  });

  return { minimapShown, minimapSize, toggleMinimap, wheelHint, onWheel };
}
