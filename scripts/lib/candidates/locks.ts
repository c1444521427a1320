// The locks parallel candidates need beyond the one-call-per-experiment lock:
// - waitLock: the ledger lock held briefly by many processes, so a caller
//   waits its turn instead of being refused;
// - the machine-wide timing lock: a benchmark sample on the local runner is
//   timed alone (exclusive), while checks of other candidates may overlap each
//   other (shared) but never a timed sample. Writers take precedence: a
//   sample waiting blocks new checks from starting.
// Every marker names its pid (and the pid's start time), so a dead holder's
// marker is swept, never waited on.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { acquireLock, type Lock } from '../lock.ts';
import { RefusalError } from '../errors.ts';
import { pidAlive, procStart } from '../procs.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const POLL_MIN_MS = 20;
const POLL_MAX_MS = 250;

/** acquireLock, but waiting (polling) while a live process holds it; refuses after maxWaitMs. */
export async function waitLock(file: string, owner: string, maxWaitMs = 30 * 60_000): Promise<Lock> {
  const until = Date.now() + maxWaitMs;
  let delay = POLL_MIN_MS;
  for (;;) {
    try {
      return acquireLock(file, owner);
    } catch (e) {
      if (!(e instanceof RefusalError) || Date.now() > until) throw e;
    }
    await sleep(delay);
    delay = Math.min(POLL_MAX_MS, delay * 1.5);
  }
}

/** Where the machine-wide timing lock lives (one per user; AUTOLOOP_TIMING_DIR moves it, for tests). */
export function timingDir(): string {
  return process.env.AUTOLOOP_TIMING_DIR || path.join(os.tmpdir(), `autoloop-timing-${process.getuid?.() ?? 0}`);
}

interface Marker {
  pid: number;
  start: string | null;
}

function liveMarker(file: string): boolean {
  let m: Marker;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as Marker;
  } catch {
    return fs.existsSync(file); // being written right now: treat as live
  }
  if (pidAlive(m.pid, m.start)) return true;
  fs.rmSync(file, { force: true });
  return false;
}

function sharedMarkers(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((n) => n.startsWith('shared-')).map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

export type Release = () => void;

/** Exclusive: no other timed sample and no checks run while it is held. Returns the release and the seconds waited. */
export async function timeAlone(owner: string): Promise<{ release: Release; waitedS: number }> {
  const dir = timingDir();
  fs.mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const lock = await waitLock(path.join(dir, 'exclusive'), owner, Number.POSITIVE_INFINITY);
  let delay = POLL_MIN_MS;
  while (sharedMarkers(dir).filter(liveMarker).length > 0) {
    await sleep(delay);
    delay = Math.min(POLL_MAX_MS, delay * 1.5);
  }
  return { release: () => lock.release(), waitedS: (performance.now() - t0) / 1000 };
}

/** Shared: runs beside other shared holders, never beside a timed sample. */
export async function runBeside(): Promise<{ release: Release; waitedS: number }> {
  const dir = timingDir();
  fs.mkdirSync(dir, { recursive: true });
  const exclusive = path.join(dir, 'exclusive');
  const mine = path.join(dir, `shared-${process.pid}-${randomUUID()}`);
  const body = JSON.stringify({ pid: process.pid, start: procStart(process.pid) } satisfies Marker);
  const t0 = performance.now();
  let delay = POLL_MIN_MS;
  for (;;) {
    if (!fs.existsSync(exclusive) || !exclusiveAlive(exclusive)) {
      fs.writeFileSync(mine, body);
      // Published first, then looked: a sample that started meanwhile sees us, or we see it.
      if (!fs.existsSync(exclusive) || !exclusiveAlive(exclusive)) break;
      fs.rmSync(mine, { force: true });
    }
    await sleep(delay);
    delay = Math.min(POLL_MAX_MS, delay * 1.5);
  }
  return { release: () => fs.rmSync(mine, { force: true }), waitedS: (performance.now() - t0) / 1000 };
}

/** The exclusive lock file names a live holder (lock.ts's format: pid and proc_start). */
function exclusiveAlive(file: string): boolean {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: number; proc_start?: string | null };
    return typeof o.pid === 'number' ? pidAlive(o.pid, o.proc_start ?? null) : true;
  } catch {
    return fs.existsSync(file);
  }
}
