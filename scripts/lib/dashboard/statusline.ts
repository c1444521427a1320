// The Claude Code status line: one short line from the two small files the
// engine keeps current (active.json, state.json). Deliberately free of zod,
// yaml and the reducer: it runs on every status refresh, so it must start fast,
// and it must never fail, so every field is checked by hand and anything odd
// yields an empty line.
import fs from 'node:fs';
import path from 'node:path';

import { cut, fmt as num } from '../format.ts';
import { SLUG } from '../patterns.ts';
import { formatChange } from '../signs.ts';

const MAX = 120;

export { num };

function rec(x: unknown): Record<string, unknown> | null {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : null;
}
const numOr = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const strOr = (x: unknown): string | null => (typeof x === 'string' ? x : null);

/** The directory Claude Code is in, from its status-line JSON (else null). */
export function dirFromInput(input: unknown): string | null {
  const o = rec(input);
  if (!o) return null;
  const ws = rec(o.workspace);
  return strOr(ws?.current_dir) ?? strOr(o.cwd);
}

/**
 * e.g. `autoloop faster-primes · best 145072 (+99.3%) · 8 runs · improving`.
 * The percentage is the best against the baseline, + = better (signs.ts);
 * without a known direction only the best is shown.
 */
export function formatStatusLine(active: unknown, state: unknown): string {
  const a = rec(active);
  const slug = strOr(a?.experiment);
  if (!a || !slug || !SLUG.test(slug)) return '';
  const s = rec(state);
  const parts = [`autoloop ${slug}`];
  const best = numOr(s?.best);
  const baseline = numOr(s?.baseline);
  const direction = a.direction === 'lower' || a.direction === 'higher' ? a.direction : null;
  if (best === null) parts.push('no baseline yet');
  else if (direction && baseline !== null && baseline !== 0 && best !== baseline) {
    parts.push(`best ${num(best)} (${formatChange(direction, best, baseline)})`);
  } else parts.push(`best ${num(best)}`);
  const runs = numOr(s?.runs_total) ?? numOr(a.runs);
  if (runs !== null) parts.push(`${runs} run${runs === 1 ? '' : 's'}`);
  const loop = strOr(a.loop);
  const health = strOr(rec(s?.health)?.health);
  if (loop === 'terminated') {
    const by = strOr(a.terminated_by);
    parts.push(by ? `terminated (${by})` : 'terminated');
  } else if (loop === 'paused' || loop === 'stopped') parts.push(loop);
  else if (health) parts.push(health);
  const line = parts.join(' · ').replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return cut(line, MAX);
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

/** Walk up from dir to the directory holding .autoloop/active.json; read it and the experiment's state cache. */
export function statusLineFor(dir: string): string {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const activeFile = path.join(d, '.autoloop', 'active.json');
    if (fs.existsSync(activeFile)) {
      const active = readJson(activeFile);
      const slug = strOr(rec(active)?.experiment);
      if (!slug || !SLUG.test(slug)) return '';
      return formatStatusLine(active, readJson(path.join(d, '.autoloop', 'experiments', slug, 'state.json')));
    }
    if (path.dirname(d) === d) return '';
  }
}
