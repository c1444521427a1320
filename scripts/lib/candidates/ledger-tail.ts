// The shared ledger while a candidate's command ran. Other candidates append
// to it meanwhile (their verdicts and events, under the ledger lock), so it
// cannot be sealed by its bytes as in the serial loop. What was there before
// the command must still be there; every line appended since must be one the
// engine wrote for another run, i.e. one its run record accounts for, or an
// event of another candidate's that its candidate record shows (or the user's
// stop or resume). Any
// other line was written by code under test: it is removed. This makes a
// forged line evident, not impossible (code that also forges a run record is
// beyond what a same-user judge can tell apart).
import { createHash } from 'node:crypto';
import { LedgerLine, type EventLine, type RunRecord } from '../schema.ts';
import type { Candidate } from './store.ts';

export interface TailCheck {
  /** The ledger as it must be: the sealed bytes, then the accounted-for lines. */
  text: string;
  /** How many lines were not the engine's (0: the ledger is left as it is). */
  forged: number;
  /** The lines appended that were not the engine's (named in the guard's tamper event: ledger_removed). */
  removed: string[];
}

/** What outside the ledger shows which engine wrote a line: run records, and candidates' records. */
export interface Witnesses {
  record: (runId: string) => RunRecord | null;
  candidate: (id: string) => Candidate | null;
  /** The candidate whose command ran (its own lines are never appended meanwhile). */
  own: string | null;
}

/**
 * Events the engine writes without a run from calls that run beside a
 * candidate's command: a lock taken over, the user's stop or resume, the
 * supervisor's relaunch, and what `control repair` or `diagnose` did (survivors
 * cleared, files put back, the branch put back, a tamper caught). They have no
 * record of their own, and none of them moves the best or judges a run:
 * dropping a real one (and voiding the run measured beside it) would be worse
 * than letting a forged one stand, which the user sees.
 */
const RUNLESS_NOTES: ReadonlySet<string> = new Set(['lock_takeover', 'stop', 'resume', 'relaunch', 'cleared', 'outside_change', 'branch_moved', 'tamper']);

/**
 * An engine event that names no run, appended by another engine process
 * while the command ran: one of the notes above, or another candidate opened,
 * rebased or closed, which its own record shows.
 */
function runlessAccounted(line: EventLine, w: Witnesses): boolean {
  if (RUNLESS_NOTES.has(line.event)) return true;
  if (line.event !== 'candidate_opened' && line.event !== 'candidate_closed' && line.event !== 'rebased') return false;
  const id = line.data.candidate;
  if (typeof id !== 'string' || id === w.own) return false;
  const c = w.candidate(id);
  if (!c) return false;
  if (line.event === 'candidate_closed') return c.status === 'closed';
  if (line.event === 'rebased') return c.base === line.data.onto || c.status === 'closed';
  return true;
}

/** A line another engine process wrote while `own` was measured, as its run record shows. */
export function accountedFor(raw: string, own: string, record: (runId: string) => RunRecord | null, w?: Witnesses): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return false;
  }
  const r = LedgerLine.safeParse(parsed);
  if (!r.success) return false;
  const line = r.data;
  if (line.type === 'event') {
    if (line.run_id === undefined) return line.event === 'lock_takeover' || (w !== undefined && runlessAccounted(line, w));
    return line.run_id !== own && record(line.run_id) !== null;
  }
  if (line.type !== 'result' || line.run_id === own) return false;
  const rec = record(line.run_id);
  // A verdict is appended under the ledger lock and its record marked logged in the same step.
  return rec !== null && rec.phase === 'logged' && rec.status === line.status && rec.primary === line.primary;
}

/** A ledger line's name in a guard's note of the lines it removed (16 hex digits of its sha256). */
export function lineId(line: string): string {
  return createHash('sha256').update(line).digest('hex').slice(0, 16);
}

/** How many removed lines a guard names in its note (the rest are put back by a guard sealed before them). */
export const REMOVED_NAMED = 1000;

/**
 * Lines of the seal that another candidate's guard removed since as not the engine's: its `tamper`
 * event (appended meanwhile, under the ledger lock, for a run of its own) names them by lineId. A
 * seal taken while a forged line stood must not put it back. Only a line that is not the engine's
 * as that guard sees it (the same rule) counts as removed, and never a config line that is the only
 * one of its segment up to this run's own: a forged note cannot take a real line out of history.
 */
function removedByOthers(missing: readonly string[], sealedLines: readonly string[], added: readonly string[], own: string, record: (runId: string) => RunRecord | null, w?: Witnesses): Set<string> {
  const out = new Set<string>();
  if (!missing.length) return out;
  const ownSegment = record(own)?.segment ?? 0;
  for (const raw of added) {
    let line: unknown;
    try {
      line = JSON.parse(raw);
    } catch {
      continue;
    }
    const t = LedgerLine.safeParse(line);
    if (!t.success || t.data.type !== 'event' || t.data.event !== 'tamper' || !t.data.run_id || t.data.run_id === own) continue;
    const named = t.data.data.ledger_removed;
    if (!Array.isArray(named)) continue;
    const remover = t.data.run_id;
    const theirs = w ? { ...w, own: record(remover)?.candidate?.id ?? null } : undefined;
    const ids = new Set(named.filter((x): x is string => typeof x === 'string'));
    for (const l of missing) {
      if (!ids.has(lineId(l)) || accountedFor(l, remover, record, theirs)) continue;
      if (onlyConfigOf(l, sealedLines, ownSegment)) continue;
      out.add(l);
    }
  }
  return out;
}

/** A config line of a segment up to `upTo` that no other line of the seal repeats: a real segment's opening. */
function onlyConfigOf(raw: string, sealedLines: readonly string[], upTo: number): boolean {
  const segOf = (l: string): number | null => {
    try {
      const v = JSON.parse(l) as { type?: unknown; segment?: unknown };
      return v.type === 'config' && typeof v.segment === 'number' ? v.segment : null;
    } catch {
      return null;
    }
  };
  const seg = segOf(raw);
  if (seg === null || seg > upTo) return false;
  return sealedLines.filter((l) => segOf(l) === seg).length === 1;
}

/** Decide what the ledger must hold, given its bytes when sealed and now. Pure but for the record lookups. */
export function checkTail(sealed: string, now: string, own: string, record: (runId: string) => RunRecord | null, w?: Witnesses): TailCheck {
  if (now === sealed) return { text: now, forged: 0, removed: [] };
  const kept = new Set(sealed.split('\n'));
  // Normally an append; if the sealed bytes were rewritten, the lines not in them are judged one by one.
  const appended = now.startsWith(sealed);
  const added = (appended ? now.slice(sealed.length) : now).split('\n').filter((l) => l !== '' && !kept.has(l));
  const good = added.filter((l) => accountedFor(l, own, record, w));
  // Sealed lines gone since: put back, unless another candidate's guard removed them as forged.
  const present = appended ? null : new Set(now.split('\n'));
  const sealedLines = present ? sealed.split('\n').filter((l) => l !== '') : [];
  const missing = present ? sealedLines.filter((l) => !present.has(l)) : [];
  const dropped = removedByOthers(missing, sealedLines, good, own, record, w);
  const base = dropped.size ? sealedLines.filter((l) => !dropped.has(l)).map((l) => `${l}\n`).join('') : sealed;
  const text = base + good.map((l) => `${l}\n`).join('');
  const removed = added.filter((l) => !good.includes(l));
  return { text, forged: text === now ? 0 : Math.max(1, removed.length), removed };
}

/**
 * checkTail's removed lines for a ledger that is the sealed text with `tail` appended, read from the
 * seal's offset on (verified.ts): the same lines, without the sealed text in the common case. A line
 * appended that is one of the sealed lines is not judged (checkTail's rule); whether it is one is
 * asked (`sealedHas`, which reads the sealed text) only for a line no record accounts for, so a tail
 * of the engine's own lines never reads what came before it.
 */
export function removedFromTail(tail: string, own: string, record: (runId: string) => RunRecord | null, w: Witnesses | undefined, sealedHas: () => (line: string) => boolean): string[] {
  const judged = tail.split('\n').filter((l) => l !== '' && !accountedFor(l, own, record, w));
  if (!judged.length) return [];
  const has = sealedHas();
  return judged.filter((l) => !has(l));
}
