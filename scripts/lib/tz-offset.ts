// The time zone offset git writes into a commit ("+0100"), told without
// starting git, where certain; null otherwise (the caller asks git). Git takes
// it from the C library's localtime (glibc: the TZif file TZ names, or
// /etc/localtime), so it is read here from that same file, never from Node's
// own zone (ICU, which may name the zone differently or hold other data).
//
// Doubts: TZDIR set, a TZ that is not a plain zone file name or path, no such
// file, leap-second zones, a time before the first transition, and a time
// after the last one where the file's footer rule has daylight time (its
// rules would have to be computed; a fixed footer such as "UTC0" or
// "<+03>-3" is read).
import fs from 'node:fs';
import path from 'node:path';

/** The TZif file glibc reads for this environment, or null when that is not certain. */
export function zoneFile(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.TZDIR !== undefined) return null;
  const tz = env.TZ;
  if (tz === undefined) return '/etc/localtime';
  const name = tz.startsWith(':') ? tz.slice(1) : tz;
  if (path.isAbsolute(name)) return /^[\w/+.-]+$/.test(name) && !name.includes('..') ? name : null;
  return /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/.test(name) ? path.join('/usr/share/zoneinfo', name) : null;
}

/** The UTC offset in seconds at `t` (unix seconds) by this TZif file's contents, or null. Pure. */
export function tzifOffset(data: Buffer, t: number): number | null {
  if (data.length < 44 || data.toString('latin1', 0, 4) !== 'TZif' || data[4]! < 0x32) return null; // version 2 or later
  const counts = (at: number) => [0, 1, 2, 3, 4, 5].map((i) => data.readUInt32BE(at + 20 + 4 * i)) as [number, number, number, number, number, number];
  const [isut1, isstd1, leap1, time1, type1, char1] = counts(0);
  const v2 = 44 + time1 * 5 + type1 * 6 + char1 + leap1 * 8 + isstd1 + isut1;
  if (data.length < v2 + 44 || data.toString('latin1', v2, v2 + 4) !== 'TZif') return null;
  const [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(v2);
  if (leap > 0 || typecnt === 0) return null;
  const times = v2 + 44;
  const idx = times + timecnt * 8;
  const types = idx + timecnt;
  const footer = types + typecnt * 6 + charcnt + isstd + isut;
  if (data.length < footer) return null;
  if (timecnt > 0 && t < Number(data.readBigInt64BE(times))) return null;
  if (timecnt > 0 && t < Number(data.readBigInt64BE(times + (timecnt - 1) * 8))) {
    let lo = 0;
    let hi = timecnt - 1; // the last transition at or before t
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (Number(data.readBigInt64BE(times + mid * 8)) <= t) lo = mid;
      else hi = mid - 1;
    }
    const type = data[idx + lo]!;
    return type < typecnt ? data.readInt32BE(types + type * 6) : null;
  }
  // At or after the last transition (or none): glibc follows the footer's rule.
  const m = /^\n(?:<[A-Za-z0-9+-]{3,}>|[A-Za-z]{3,})([+-]?)(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?\n$/.exec(data.toString('latin1', footer));
  if (!m) return null;
  const secs = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  return m[1] === '-' ? secs : -secs; // POSIX offsets are west of UTC
}

/** Git's "+hhmm" for an offset in seconds: whole minutes, truncated toward zero (date.c). Pure. */
export function gitTz(offset: number): string {
  const mins = Math.trunc(Math.abs(offset) / 60);
  return `${offset < 0 && mins > 0 ? '-' : '+'}${String(Math.trunc(mins / 60) * 100 + (mins % 60)).padStart(4, '0')}`;
}

/** The "+hhmm" git would write at `t` in this environment, or null: ask git. */
export function localGitTz(t: number, env: NodeJS.ProcessEnv = process.env): string | null {
  const file = zoneFile(env);
  if (!file) return null;
  try {
    const off = tzifOffset(fs.readFileSync(file), t);
    return off === null ? null : gitTz(off);
  } catch {
    return null;
  }
}
