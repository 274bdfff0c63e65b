// Sizes and view settings shared by the canvas's modules.

/** A node card's width, and its height without badges or outcomes. */
export const NODE_WIDTH = 240;
export const NODE_HEIGHT = 64;
/** Snap grid of the canvas (dragged and dropped nodes land on it). */
export const GRID = 10;
/** How far a pasted copy, or a new node that would cover another, is shifted right and down. */
export const PASTE_OFFSET = 40;
/** Fit view: the Controls button, tidy, and the view a graph opens with (never closer than 100 %). */
export const FIT_OPTIONS = { padding: 0.2, maxZoom: 1 };
