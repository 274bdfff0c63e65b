// Overlays: what a run or a validation lays on the nodes (a status colour, problem marks, a note badge such as a
// run's token count). They are not edits: they survive undo/redo, are never part of the history, and only
// Python sets them.

/** The overlays of one canvas, kept per node key, and the Python-facing methods that set them. */
export function useOverlays(flow) {
  let statuses = {};
  let problems = {};
  let notes = {};

  /** What is laid on node `id`, as its `data` carries it on the canvas. */
  function of(id) {
    return { status: statuses[id] ?? null, problems: problems[id] ?? [], note: notes[id] ?? null };
  }

  /** Start over from a graph that is being loaded: its nodes' `status` and `problems`; no notes. */
  function reset(graph) {
    statuses = {};
    problems = {};
    notes = {};
    for (const node of graph?.nodes || []) {
      if (node?.data?.status) statuses[node.id] = node.data.status;
      if (Array.isArray(node?.data?.problems) && node.data.problems.length) problems[node.id] = node.data.problems;
    }
  }

  /** A node's status and problems follow it when its key changes. */
  function rename(oldKey, newKey) {
    for (const overlay of [statuses, problems]) {
      if (oldKey in overlay) {
        overlay[newKey] = overlay[oldKey];
        delete overlay[oldKey];
      }
    }
  }

  /** Merge run statuses in: nodes not named keep theirs, a falsy status clears. */
  function setStatuses(update) {
    for (const [key, status] of Object.entries(update || {})) {
      if (status) statuses[key] = status;
      else delete statuses[key];
      if (flow.findNode(key)) flow.updateNodeData(key, { status: status || null });
    }
  }

  /** Replace every problem mark: nodes not named have none. */
  function setProblems(all) {
    const next = {};
    for (const [key, list] of Object.entries(all || {})) {
      if (Array.isArray(list) && list.length) next[key] = list.map(String);
    }
    const touched = new Set([...Object.keys(problems), ...Object.keys(next)]);
    problems = next;
    for (const key of touched) if (flow.findNode(key)) flow.updateNodeData(key, { problems: problems[key] || [] });
  }

  /** Merge notes in: nodes not named keep theirs, a falsy note clears. */
  function setNotes(update) {
    for (const [key, note] of Object.entries(update || {})) {
      if (note) notes[key] = String(note);
      else delete notes[key];
      if (flow.findNode(key)) flow.updateNodeData(key, { note: notes[key] ?? null });
    }
  }

  return { of, reset, rename, setStatuses, setProblems, setNotes };
}
