// Durations such as "1h30m", in whole seconds.
const UNITS = { d: 86400, h: 3600, m: 60, s: 1 };
const PART = /^(\d+)\s*([dhms])\s*/;

/** "1h30m", "90s", "2d 4h" → seconds. */
export function parseDuration(text) {
  let rest = text.trim();
  if (rest === '') {
    throw new Error('empty duration');
  }
  let total = 0;
  while (rest.length > 0) {
    const match = PART.exec(rest);
    if (!match) {
      throw new Error(`not a duration: ${JSON.stringify(text)}`);
    }
    total += Number(match[1]) * UNITS[match[2]];
    rest = rest.slice(match[0].length);
  }
  return total;
}

/** seconds → "1h 30m": largest units first, zero parts left out. */
export function formatDuration(seconds) {
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new RangeError(`not a whole number of seconds: ${seconds}`);
  }
  if (seconds === 0) {
    return '0s';
  }
  const parts = [];
  let left = seconds;
  for (const [unit, size] of Object.entries(UNITS)) {
    if (left >= size) {
      parts.push(`${Math.floor(left / size)}${unit}`);
      left %= size;
    }
  }
  return parts.join(' ');
}
