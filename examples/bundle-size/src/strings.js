// String helpers.

/** "hello" → "Hello". */
export function capitalize(text) {
  return text.length ? text[0].toUpperCase() + text.slice(1) : text;
}

/** "7", 3, "0" → "007". */
export function padLeft(text, width, fill = ' ') {
  let out = String(text);
  while (out.length < width) {
    out = fill + out;
  }
  return out;
}

/** At most max characters, with "…" when cut. */
export function truncate(text, max) {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
