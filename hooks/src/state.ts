// Reading the engine's active.json and reading/writing the hooks' own
// session.json. A hook must never break the user's session: every failure
// here degrades to "do nothing" plus one line on stderr.
import fs from 'node:fs';
import path from 'node:path';
import { pidAlive } from '../../scripts/lib/procs.ts';
import { commitSessionLock, readSessionText, releaseSessionLock, sessionLockPath, takeSessionLock } from '../../scripts/lib/session-lock.ts';
import { ActiveFile, SessionFile } from './schema.ts';

export interface Files {
  projectDir: string;
  active: string;
  session: string;
}

export function files(projectDir: string): Files {
  const dir = path.join(projectDir, '.autoloop');
  return { projectDir, active: path.join(dir, 'active.json'), session: path.join(dir, 'session.json') };
}

export function warn(message: string): void {
  fs.writeSync(2, `autoloop hook: ${message}\n`);
}

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** The engine's view of the loop, or null when absent or unreadable (the hooks then stay out of the way). */
export function readActive(f: Files): ActiveFile | null {
  let raw: unknown;
  try {
    raw = readJson(f.active);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`cannot read ${f.active}; hooks are idle until the engine rewrites it`);
    return null;
  }
  const parsed = ActiveFile.safeParse(raw);
  if (!parsed.success) {
    warn(`${f.active} does not have the expected shape; hooks are idle until the engine rewrites it`);
    return null;
  }
  return parsed.data;
}

export const EMPTY_SESSION: SessionFile = {
  owner_session: null,
  owner_agent: null,
  blocks: 0,
  idle_blocks: 0,
  last_runs: null,
  chain_nudged: null,
  candidate: null,
  past_end: null,
  owner_process: null,
  candidate_process: null,
};

/** session.json as the hooks' schema reads it; quiet: no warning (the second read of updateSession). */
function parseSession(f: Files, quiet = false): { text: string | null; session: SessionFile } {
  let text: string | null = null;
  try {
    text = readSessionText(f.session);
    if (text !== null) {
      const parsed = SessionFile.safeParse(JSON.parse(text));
      if (parsed.success) return { text, session: parsed.data };
      if (!quiet) warn(`${f.session} is malformed; starting from empty hook state`);
    }
  } catch {
    if (!quiet) warn(`cannot read ${f.session}; starting from empty hook state`);
  }
  return { text, session: { ...EMPTY_SESSION } };
}

export function readSession(f: Files): SessionFile {
  return parseSession(f).session;
}

/**
 * Decide on session.json and write what the decision says (pick), safe against every other writer
 * (scripts/lib/session-lock.ts): a decision that changes nothing takes no lock; one that does is
 * made again on session.json as it is once the lock is held, when another writer changed it
 * meanwhile. A lock not taken in a short time: the answer stands and the write is dropped, as if
 * another writer's had come after it.
 */
export function updateSession<R>(f: Files, decide: (s: SessionFile) => R, pick: (r: R) => SessionFile | null): R {
  const first = parseSession(f);
  let r = decide(first.session);
  if (!pick(r)) return r;
  const lock = takeSessionLock(f.session);
  if (!lock) {
    warn(`cannot take ${sessionLockPath(f.session)} (busy: another hook holds it; or not writable), so this change to ${f.session} is dropped`);
    return r;
  }
  try {
    const now = parseSession(f, true);
    if (now.text !== first.text) r = decide(now.session);
    const next = pick(r);
    if (next) commitSessionLock(lock, `${JSON.stringify(next, null, 2)}\n`);
    else releaseSessionLock(lock);
  } catch {
    releaseSessionLock(lock);
    warn(`cannot write ${f.session}`);
  }
  return r;
}

/** Write this state whole, under the lock (tests, and a writer with nothing to decide). */
export function writeSession(f: Files, s: SessionFile): void {
  updateSession(f, () => s, (x) => x);
}

/** Phase of the experiment's latest run (runs/rNNNN/result.json), or null: tells a new session what was left half done. */
export function latestRunPhase(f: Files, experiment: string, nextRun?: number): string | null {
  const runs = path.join(f.projectDir, '.autoloop', 'experiments', experiment, 'runs');
  try {
    const last = (nextRun && latestFrom(runs, nextRun)) || fs.readdirSync(runs).filter((d) => /^r\d+$/.test(d)).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))).pop();
    if (!last) return null;
    const phase = (readJson(path.join(runs, last, 'result.json')) as { phase?: unknown }).phase;
    // Logged, but active.json (written last) is older: the call was cut off after its ledger line, and
    // the summary the session is given predates that run ('logged_unseen', session-start.ts).
    if (phase === 'measured' && resultLogged(path.join(runs, '..', 'ledger.jsonl'), last)) return 'logged_unseen';
    if (phase === 'logged' && nextRun !== undefined && Number(last.slice(1)) >= nextRun) return 'logged_unseen';
    // A record still running while an engine process holds the repository's lock is being measured
    // now (another session, or up's): not cut off; starting or repairing would only wait on it.
    if (phase === 'running' && lockHeld(f.projectDir)) return 'in_progress';
    return typeof phase === 'string' ? phase : null;
  } catch {
    return null;
  }
}

const runName = (n: number): string => `r${String(n).padStart(4, '0')}`;

/**
 * The latest run folder found from active.json's next_run, as the engine finds it
 * (experiment.ts latestRunNumber): the last logged run's folder, then any after it.
 * Listing every folder cost a Stop 0.15 s at 10,000 runs. Null: that folder is not
 * there (no run logged yet, or removed), and the caller lists them.
 */
function latestFrom(runs: string, nextRun: number): string | null {
  const isDir = (k: number) => fs.statSync(path.join(runs, runName(k)), { throwIfNoEntry: false })?.isDirectory() === true;
  let n = nextRun - 1;
  if (n < 1 || !isDir(n)) return null;
  while (isDir(n + 1)) n++;
  return runName(n);
}

/** Bytes of the ledger's end searched for a run's result: it is among the last lines when a log was cut off after writing it. */
const LEDGER_TAIL = 64 * 1024;

/**
 * Whether the ledger's end holds the result line of this run: a log killed after writing it but
 * before marking the record 'logged' (the engine's next call settles it). Asking for that run to be
 * logged again would be refused as already logged.
 */
function resultLogged(ledger: string, runId: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(ledger, 'r');
  } catch {
    return false;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, LEDGER_TAIL);
    const buf = Buffer.alloc(len);
    const got = fs.readSync(fd, buf, 0, len, size - len);
    const lines = buf.subarray(0, got).toString('utf8').split('\n');
    if (len < size) lines.shift(); // begins mid-line
    return lines.some((l) => {
      if (!l.includes('"result"') || !l.includes(runId)) return false;
      try {
        const o = JSON.parse(l) as { type?: unknown; run_id?: unknown };
        return o.type === 'result' && o.run_id === runId;
      } catch {
        return false;
      }
    });
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether .autoloop/lock names a live process (the engine's lock.ts: pid and its kernel start time). */
function lockHeld(projectDir: string): boolean {
  try {
    const o = readJson(path.join(projectDir, '.autoloop', 'lock')) as { pid?: unknown; proc_start?: unknown };
    return typeof o.pid === 'number' && pidAlive(o.pid, typeof o.proc_start === 'string' ? o.proc_start : null);
  } catch {
    return false;
  }
}
