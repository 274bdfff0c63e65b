// The tidy layout: a layered drawing, left to right like the flow of a run. Ranks by longest path (an entry
// step that feeds a late step only sits just before it), an order within each rank that follows the output
// handles (a branch's steps top to bottom in the order of its outcomes), then heights that keep chains straight
// and centre a branch's steps on it. Edges that skip ranks get a lane of their own (invisible waypoints).

const FALLBACK = { width: 240, height: 72 };
const WAYPOINT = 8; // the height a skipping edge's lane takes in the ranks it crosses
const SWEEPS = 6;

/** The edges that close a cycle (found by a depth-first walk from `ids` in order) are left out of the layout. */
function acyclic(ids, out) {
  const state = new Map(); // 1: on the walk's stack, 2: done
  const kept = new Map(ids.map((id) => [id, []]));
  for (const root of ids) {
    if (state.has(root)) continue;
    const stack = [[root, 0]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [id, next] = top;
      const edges = out.get(id);
      if (next >= edges.length) {
        state.set(id, 2);
        stack.pop();
        continue;
      }
      top[1] += 1;
      const edge = edges[next];
      if (state.get(edge.target) === 1) continue; // back to the stack: a cycle
      kept.get(id).push(edge);
      if (!state.has(edge.target)) {
        state.set(edge.target, 1);
        stack.push([edge.target, 0]);
      }
    }
  }
  return kept;
}

/** Longest-path ranks; an entry step with no predecessor moves right up to its first successor. */
function rankOf(ids, out) {
  const incoming = new Map(ids.map((id) => [id, 0]));
  for (const id of ids) for (const edge of out.get(id)) incoming.set(edge.target, incoming.get(edge.target) + 1);
  const rank = new Map(ids.map((id) => [id, 0]));
  const queue = ids.filter((id) => incoming.get(id) === 0);
  const sources = new Set(queue);
  const order = [];
  while (queue.length) {
    const id = queue.shift();
    order.push(id);
    for (const edge of out.get(id)) {
      rank.set(edge.target, Math.max(rank.get(edge.target), rank.get(id) + 1));
      incoming.set(edge.target, incoming.get(edge.target) - 1);
      if (incoming.get(edge.target) === 0) queue.push(edge.target);
    }
  }
  for (const id of order.reverse()) {
    const next = out.get(id).map((edge) => rank.get(edge.target));
    if (sources.has(id) && next.length) rank.set(id, Math.min(...next) - 1);
  }
  return rank;
}

/**
 * The ranks as lists of vertices (the nodes, and a waypoint per rank a skipping edge crosses) and the segments
 * between neighbouring ranks: `{ from, to, port, handle }`, `port` being the position of the edge's handle on its
 * source (-0.5 … 0.5, 0 for a single output).
 */
function layered(nodes, out, rank) {
  const vertices = new Map(nodes.map((node) => [node.id, { ...node, rank: rank.get(node.id), dummy: false }]));
  const segments = [];
  for (const [id, edges] of out) {
    for (const edge of edges) {
      let [from, port, handle] = [id, edge.port, edge.handle];
      for (let r = rank.get(id) + 1; r < rank.get(edge.target); r += 1) {
        const waypoint = `${id}\u0000${edge.target}\u0000${edge.index}\u0000${r}`;
        vertices.set(waypoint, { id: waypoint, width: 0, height: WAYPOINT, rank: r, dummy: true, y: 0 });
        segments.push({ from, to: waypoint, port, handle });
        [from, port, handle] = [waypoint, 0, null];
      }
      segments.push({ from, to: edge.target, port, handle });
    }
  }
  const ranks = [];
  for (const vertex of vertices.values()) (ranks[vertex.rank] ||= []).push(vertex.id);
  return { vertices, ranks: Array.from(ranks, (list) => list || []), segments };
}

/** A first order: a depth-first walk from the entry steps (top to bottom), a step's successors by handle. */
function firstOrder(ids, vertices, segments) {
  const next = new Map();
  for (const segment of segments)
    (next.get(segment.from) || next.set(segment.from, []).get(segment.from)).push(segment);
  for (const list of next.values()) {
    list.sort((a, b) => a.port - b.port || vertices.get(a.to).y - vertices.get(b.to).y);
  }
  const seen = new Map();
  const visit = (id) => {
    const stack = [id];
    while (stack.length) {
      const current = stack.pop();
      if (seen.has(current)) continue;
      seen.set(current, seen.size);
      const after = (next.get(current) || []).map((segment) => segment.to).reverse();
      stack.push(...after);
    }
  };
  const roots = [...ids].sort(
    (a, b) => vertices.get(a).rank - vertices.get(b).rank || vertices.get(a).y - vertices.get(b).y,
  );
  roots.forEach(visit);
  for (const id of vertices.keys()) if (!seen.has(id)) seen.set(id, seen.size);
  return seen;
}

/** How many segments between two neighbouring ranks cross, counting where on its source each one leaves. */
function crossingsBetween(segments, position) {
  const ends = segments
    .map((segment) => [position.get(segment.from) + segment.port * 0.9, position.get(segment.to)])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map((pair) => pair[1]);
  let count = 0;
  for (let i = 0; i < ends.length; i += 1)
    for (let j = i + 1; j < ends.length; j += 1) if (ends[j] < ends[i]) count += 1;
  return count;
}

function crossings(ranks, between, position) {
  let total = 0;
  for (let r = 1; r < ranks.length; r += 1) total += crossingsBetween(between[r], position);
  return total;
}

/** Reorder rank `r` by the mean position of its neighbours (`side`: "from" for predecessors, "to" for successors). */
function sortRank(list, segments, position, side) {
  const other = side === "from" ? "to" : "from";
  const sum = new Map();
  for (const segment of segments) {
    const id = segment[other];
    const at = position.get(segment[side]) + (side === "from" ? segment.port * 0.9 : 0);
    const [total, count] = sum.get(id) || [0, 0];
    sum.set(id, [total + at, count + 1]);
  }
  const weight = (id) => (sum.has(id) ? sum.get(id)[0] / sum.get(id)[1] : position.get(id));
  list.sort((a, b) => weight(a) - weight(b) || position.get(a) - position.get(b));
  list.forEach((id, index) => position.set(id, index));
}

/** Orders within ranks with few crossings (barycentre sweeps, the best order kept). */
function order(ids, graph) {
  const { vertices, ranks, segments } = graph;
  const between = ranks.map(() => []);
  for (const segment of segments) between[vertices.get(segment.to).rank].push(segment);
  const first = firstOrder(ids, vertices, segments);
  const position = new Map();
  for (const list of ranks) {
    list.sort((a, b) => first.get(a) - first.get(b));
    list.forEach((id, index) => position.set(id, index));
  }
  let best = { count: crossings(ranks, between, position), ranks: ranks.map((list) => [...list]) };
  for (let sweep = 0; sweep < SWEEPS && best.count > 0; sweep += 1) {
    if (sweep % 2 === 0) for (let r = 1; r < ranks.length; r += 1) sortRank(ranks[r], between[r], position, "from");
    else for (let r = ranks.length - 2; r >= 0; r -= 1) sortRank(ranks[r], between[r + 1], position, "to");
    const count = crossings(ranks, between, position);
    if (count < best.count) best = { count, ranks: ranks.map((list) => [...list]) };
  }
  return best.ranks;
}

/**
 * Tops for one rank's vertices in `list` (in order) wanting the centres `wanted`: as near as they can be
 * without overlapping (blocks of touching vertices sit at their members' mean wish).
 */
function place(list, vertices, wanted, nodeSep) {
  const gap = (a, b) => (vertices.get(a).dummy || vertices.get(b).dummy ? nodeSep / 2 : nodeSep);
  const blocks = [];
  list.forEach((id, index) => {
    const vertex = vertices.get(id);
    let block = { ids: [id], offsets: [0], height: vertex.height, sum: wanted[index] - vertex.height / 2, n: 1 };
    block.top = block.sum;
    while (blocks.length) {
      const last = blocks[blocks.length - 1];
      const sep = gap(last.ids[last.ids.length - 1], block.ids[0]);
      if (last.top + last.height + sep <= block.top) break;
      blocks.pop();
      const shift = last.height + sep;
      block = {
        ids: [...last.ids, ...block.ids],
        offsets: [...last.offsets, ...block.offsets.map((offset) => offset + shift)],
        height: shift + block.height,
        sum: last.sum + block.sum - shift * block.n,
        n: last.n + block.n,
      };
      block.top = block.sum / block.n;
    }
    blocks.push(block);
  });
  const tops = new Map();
  for (const block of blocks) block.ids.forEach((id, index) => tops.set(id, block.top + block.offsets[index]));
  return tops;
}

/** Where on a vertex placed at `top` the handle of a segment leaves (its measured handle, else the middle). */
function portY(vertex, top, segment) {
  const handle = segment.handle != null ? vertex.handles?.find((h) => h.id === segment.handle) : null;
  return handle ? top + handle.y + handle.height / 2 : top + vertex.height / 2;
}

/** Heights rank by rank, left to right: each vertex centred on where its incoming edges leave. */
function heights(ranks, graph, nodeSep) {
  const { vertices, segments } = graph;
  const incoming = new Map();
  for (const segment of segments)
    (incoming.get(segment.to) || incoming.set(segment.to, []).get(segment.to)).push(segment);
  const tops = new Map();
  for (const list of ranks) {
    let previous = null;
    const wanted = list.map((id) => {
      const from = (incoming.get(id) || []).filter((segment) => tops.has(segment.from));
      const centre = from.length
        ? from.reduce((sum, s) => sum + portY(vertices.get(s.from), tops.get(s.from), s), 0) / from.length
        : (previous ?? 0) + nodeSep + vertices.get(id).height / 2;
      previous = centre + vertices.get(id).height / 2;
      return centre;
    });
    for (const [id, top] of place(list, vertices, wanted, nodeSep)) tops.set(id, top);
  }
  return tops;
}

/**
 * Top-left positions for `nodes` ({id, width, height, x, y, handles: [{id, y, height}]}: the output handles'
 * offsets, measured) connected by `edges` ({source, target, sourceHandle}), laid out left to right with
 * `outcomes(id)` giving a node's named handles in order (null: one output). Returns a Map id → {x, y}.
 */
export function tidyLayout(nodes, edges, { rankSep = 60, nodeSep = 40, grid = 10, outcomes = () => null } = {}) {
  const sized = nodes.map((node) => ({
    ...node,
    width: node.width || FALLBACK.width,
    height: node.height || FALLBACK.height,
    y: Number(node.y) || 0,
  }));
  const ids = [...sized].sort((a, b) => (a.x || 0) - (b.x || 0) || a.y - b.y).map((node) => node.id);
  const out = new Map(ids.map((id) => [id, []]));
  edges.forEach((edge, index) => {
    if (!out.has(edge.source) || !out.has(edge.target) || edge.source === edge.target) return;
    const handles = outcomes(edge.source);
    const at = handles ? handles.indexOf(edge.sourceHandle) : -1;
    const port = handles && at >= 0 ? (at + 0.5) / handles.length - 0.5 : 0;
    out.get(edge.source).push({ target: edge.target, port, handle: edge.sourceHandle ?? null, index });
  });
  const kept = acyclic(ids, out);
  const graph = layered(sized, kept, rankOf(ids, kept));
  const ranks = order(ids, graph);
  const tops = heights(ranks, graph, nodeSep);
  const snap = (value) => Math.round(value / grid) * grid;
  const minTop = Math.min(...sized.map((node) => tops.get(node.id)));
  const positions = new Map();
  let x = 0;
  for (const list of ranks) {
    const real = list.map((id) => graph.vertices.get(id)).filter((vertex) => !vertex.dummy);
    const width = Math.max(0, ...real.map((vertex) => vertex.width));
    for (const vertex of real)
      positions.set(vertex.id, { x: snap(x + (width - vertex.width) / 2), y: snap(tops.get(vertex.id) - minTop) });
    x += (width || FALLBACK.width / 2) + rankSep;
  }
  return positions;
}
