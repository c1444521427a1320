// The library's public surface: everything a user may import.
export { deepClone, pick } from './objects.js';
export { chunk, unique, groupBy } from './arrays.js';
export { capitalize, padLeft, truncate } from './strings.js';
