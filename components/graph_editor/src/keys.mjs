// Node keys: identifiers usable in templates (`nodes.<key>.output`): letters, digits and `_`,
// starting with a letter or `_`, at most 64 characters. Mirrored by `keys.py` on the Python side.

export const KEY_MAX = 64;
const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function isValidKey(key) {
  return typeof key === "string" && KEY_PATTERN.test(key);
}

export function keyBase(text) {
  let base = String(text ?? "")
    .normalize("NFKD")
    .replace(/[^\p{ASCII}]/gu, "") // what NFKD could not spell in ASCII (`ß`, CJK…) is dropped
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/_+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (!base) base = "node";
  if (/^[0-9]/.test(base)) base = `node_${base}`;
  return base.slice(0, KEY_MAX);
}

/** The first free key derived from `text`: `transform`, then `transform_2`, `transform_3`… */
export function uniqueKey(text, taken) {
  const base = keyBase(text);
  if (!taken.has(base)) return base;
  for (let i = 2; ; i += 1) {
    const suffix = `_${i}`;
    const key = base.slice(0, KEY_MAX - suffix.length) + suffix;
    if (!taken.has(key)) return key;
  }
}

/** A fresh key for a copy of the node `key` (`transform_3` → `transform_4` when that is free). */
export function copyKey(key, taken) {
  return uniqueKey(String(key).replace(/_\d+$/, ""), taken);
}
