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
import { LedgerLine, type EventLine, type RunRecord } from '../schema.ts';
import type { Candidate } from './store.ts';

export interface TailCheck {
  /** The ledger as it must be: the sealed bytes, then the accounted-for lines. */
  text: string;
  /** How many lines were not the engine's (0: the ledger is left as it is). */
  forged: number;
}

/** What outside the ledger shows which engine wrote a line: run records, and candidates' records. */
export interface Witnesses {
  record: (runId: string) => RunRecord | null;
  candidate: (id: string) => Candidate | null;
  /** The candidate whose command ran (its own lines are never appended meanwhile). */
  own: string | null;
}

/**
 * An engine event that names no run, appended by another engine process
 * while the command ran: a lock taken over, the user's stop or resume, or
 * another candidate opened, rebased or closed, which its own record shows.
 * (A stop or resume has no record of its own: dropping the user's would be
 * worse than letting a forged one stand, which the user sees and undoes.)
 */
function runlessAccounted(line: EventLine, w: Witnesses): boolean {
  if (line.event === 'lock_takeover' || line.event === 'stop' || line.event === 'resume') return true;
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

/** Decide what the ledger must hold, given its bytes when sealed and now. Pure but for the record lookups. */
export function checkTail(sealed: string, now: string, own: string, record: (runId: string) => RunRecord | null, w?: Witnesses): TailCheck {
  if (now === sealed) return { text: now, forged: 0 };
  const kept = new Set(sealed.split('\n'));
  // Normally an append; if the sealed bytes were rewritten, the lines not in them are judged one by one.
  const added = (now.startsWith(sealed) ? now.slice(sealed.length) : now).split('\n').filter((l) => l !== '' && !kept.has(l));
  const good = added.filter((l) => accountedFor(l, own, record, w));
  const text = sealed + good.map((l) => `${l}\n`).join('');
  return { text, forged: text === now ? 0 : Math.max(1, added.length - good.length) };
}
