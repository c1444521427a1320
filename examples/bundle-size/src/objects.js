// Object helpers.

/** A deep copy of plain data: objects, arrays, dates, maps and sets. */
export function deepClone(value) {
  if (value === null || typeof value !== 'object') {
    return value;
  }
  if (value instanceof Date) {
    return new Date(value.getTime());
  }
  if (value instanceof Map) {
    const copy = new Map();
    for (const [key, item] of value) {
      copy.set(deepClone(key), deepClone(item));
    }
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set();
    for (const item of value) {
      copy.add(deepClone(item));
    }
    return copy;
  }
  if (Array.isArray(value)) {
    const copy = [];
    for (let i = 0; i < value.length; i++) {
      copy.push(deepClone(value[i]));
    }
    return copy;
  }
  const copy = {};
  for (const key of Object.keys(value)) {
    copy[key] = deepClone(value[key]);
  }
  return copy;
}

/** A new object with only the given keys. */
export function pick(object, keys) {
  const out = {};
  for (const key of keys) {
    if (key in object) {
      out[key] = object[key];
    }
  }
  return out;
}
