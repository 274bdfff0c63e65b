// How a node's run status shows: the card's stripe class, an icon with a label, the minimap's colour.
import { kindColour } from "./icons.mjs";

export const STATUSES = {
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

/** A node's colour on the minimap: its status's while it has one, else its kind's. */
export function minimapColour(node) {
  if (node.type === "note") return "#facc15";
  return MINIMAP_COLOURS[node.data?.status] || kindColour(node.data?.kind);
}
