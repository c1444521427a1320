// Array helpers.

/** [1,2,3,4,5], 2 → [[1,2],[3,4],[5]]. */
export function chunk(items, size) {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError('chunk size must be a positive integer');
  }
  const out = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(items.slice(i, i + size));
  }
  return out;
}

/** The items without repeats, in first-seen order. */
export function unique(items) {
  const out = [];
  for (let i = 0; i < items.length; i++) {
    let seen = false;
    for (let j = 0; j < out.length; j++) {
      if (out[j] === items[i]) {
        seen = true;
        break;
      }
    }
    if (!seen) {
      out.push(items[i]);
    }
  }
  return out;
}

/** Items grouped by key(item), in first-seen order of the keys. */
export function groupBy(items, key) {
  const groups = {};
  for (const item of items) {
    const k = key(item);
    if (!(k in groups)) {
      groups[k] = [];
    }
    groups[k].push(item);
  }
  return groups;
}
