// When does a usage limit reset? The CLI states it two ways: exactly, as
// `rate_limit_event.rate_limit_info.resetsAt` (epoch seconds) in stream-json,
// and for people, in the result text: "You've hit your 5-hour limit · resets
// 3:32am (UTC)", or "resets Nov 30, 3pm (Europe/Paris)" when it is more than a
// day away. The text is the fallback when no event came; both are read here.

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_MS = 86_400_000;

// "resets [Mon D[, YYYY], ]H[:MM]am|pm (Zone)" or "resets Mon D[, YYYY] (Zone)".
const RESET_RE = /resets\s+(?:([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2})(?:,\s*(\d{4}))?(?:,\s*|\s+at\s+)?)?(?:(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?)?\s*\(([^)]+)\)/i;

interface Wall {
  y: number;
  mo: number; // 0-based
  d: number;
  h: number;
  mi: number;
}

// One formatter per zone: building one costs about as much as a hundred uses
// (measured: 4,000 builds 0.9 s of CPU, 4,000 uses of six cached 0.04 s), and
// reading one reset builds the wall clock up to nine times. Null: not a zone.
const formatters = new Map<string, Intl.DateTimeFormat | null>();

function formatterFor(tz: string): Intl.DateTimeFormat | null {
  let f = formatters.get(tz);
  if (f !== undefined) return f;
  try {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
  } catch {
    f = null;
  }
  // Zones come from the CLI's messages: few, but bound the map all the same.
  if (formatters.size < 64) formatters.set(tz, f);
  return f;
}

/** The wall clock in a time zone at an instant; null for an unknown zone. */
export function wallClock(ms: number, tz: string): Wall | null {
  const f = formatterFor(tz);
  if (!f) return null;
  const parts = f.formatToParts(new Date(ms));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? NaN);
  return { y: get('year'), mo: get('month') - 1, d: get('day'), h: get('hour') % 24, mi: get('minute') };
}

/**
 * The instant at which the wall clock in tz reads w. Across a DST fold the
 * wall time happens twice and the text cannot say which: the later one, so a
 * relaunch never comes before the limit has reset (at worst an hour late, once).
 * In a DST gap (a wall time that never happens) the later reading too.
 */
export function zonedToEpoch(w: Wall, tz: string): number | null {
  const asUtc = Date.UTC(w.y, w.mo, w.d, w.h, w.mi);
  const offsetAt = (t: number): number | null => {
    const c = wallClock(t, tz);
    return c ? Date.UTC(c.y, c.mo, c.d, c.h, c.mi) - Math.floor(t / 60_000) * 60_000 : null;
  };
  // Zone offsets change at most once within a day here: the offsets half a
  // day either side give every instant that can read w.
  const offsets = [offsetAt(asUtc - DAY_MS / 2), offsetAt(asUtc + DAY_MS / 2)];
  if (offsets.some((o) => o === null)) return null;
  const candidates = (offsets as number[]).map((o) => asUtc - o);
  const reads = (t: number): boolean => {
    const c = wallClock(t, tz);
    return c !== null && c.y === w.y && c.mo === w.mo && c.d === w.d && c.h === w.h && c.mi === w.mi;
  };
  const exact = candidates.filter(reads);
  return Math.max(...(exact.length > 0 ? exact : candidates));
}

/**
 * The reset instant (epoch ms) named in a CLI limit message, or null when the
 * text names none. A time without a date is its next occurrence after now; a
 * date without a year is this year's (the CLI adds the year when it differs), or next year's when that is already past.
 */
export function parseResetText(text: string, nowMs: number): number | null {
  const m = RESET_RE.exec(text);
  if (!m) return null;
  const [, mon, day, year, hour, minute, ampm, tz] = m;
  if (!tz || (!mon && !hour)) return null;
  const now = wallClock(nowMs, tz.trim());
  if (!now) return null;
  let h = 0;
  if (hour) {
    h = Number(hour) % 12;
    if (ampm?.toLowerCase() === 'p') h += 12;
  }
  const mi = minute ? Number(minute) : 0;
  if (h > 23 || mi > 59) return null;
  if (mon) {
    const mo = MONTHS.indexOf(mon.toLowerCase());
    if (mo < 0) return null;
    const y = year ? Number(year) : now.y;
    let t = zonedToEpoch({ y, mo, d: Number(day), h, mi }, tz.trim());
    if (t !== null && !year && t < nowMs - DAY_MS) t = zonedToEpoch({ y: y + 1, mo, d: Number(day), h, mi }, tz.trim());
    return t;
  }
  const today = zonedToEpoch({ y: now.y, mo: now.mo, d: now.d, h, mi }, tz.trim());
  if (today === null) return null;
  // Already past today (a minute of slack for the CLI's rounding): tomorrow's.
  if (today >= nowMs - 60_000) return today;
  const next = new Date(Date.UTC(now.y, now.mo, now.d) + DAY_MS);
  return zonedToEpoch({ y: next.getUTCFullYear(), mo: next.getUTCMonth(), d: next.getUTCDate(), h, mi }, tz.trim());
}
