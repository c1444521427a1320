// Runs the user's benchmark and checks commands so that nothing outlives a run
// and memory stays flat whatever the command prints.
//
// - The command gets its own process group (detached = setsid), so one signal
//   to -pgid reaches everything it forked, including background servers.
// - Kill sequence: SIGTERM (+SIGCONT so stopped members can act on it), poll
//   until the group is empty or the grace ends, SIGKILL, poll ≤ 0.5 s, report
//   whoever is still alive. It runs on timeout, on abort, and after a normal
//   exit when background members remain.
// - The child writes straight into the log's file descriptor: no pipe through
//   this process (no buffering, and the output still lands in the log if the
//   engine is SIGKILLed). Afterwards the tail is read from the end of the file
//   and METRIC lines are streamed from this run's byte range with fixed buffers.
// Limitation: a member that leaves the group (setsid, setpgid) cannot be found
// by its process group.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface RunSpec {
  command: string;
  cwd: string;
  timeoutS: number;
  graceS: number;
  logFile: string;
  header?: string;
  env?: Record<string, string>;
  signal?: AbortSignal;
  onStart?: (pgid: number) => void;
}

export interface RunOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  interrupted: boolean;
  /** Spawn to the shell's exit (background stragglers' cleanup is not counted). */
  durationS: number;
  survivors: number[];
  metricLines: string[];
  tail: string;
  spawnError: string | null;
}

export const TAIL_MAX_LINES = 40;
export const TAIL_MAX_BYTES = 4096;
export const METRIC_MAX_LINES = 10_000;
/** Longer METRIC lines are cut here and marked, so a runaway line cannot fill memory. */
export const METRIC_MAX_LINE_BYTES = 1024;
export const METRIC_TRUNCATED_MARK = ' [truncated by watchdog]';
/** After SIGKILL, how long the kernel gets to take the group down. */
const REAP_WAIT_MS = 500;
const POLL_MS = 20;
/** setTimeout overflows past 2^31-1 ms (it would fire at once); longer means "no timeout". */
const MAX_TIMER_MS = 2_147_483_647;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- process groups

const HAS_PROC = process.platform === 'linux' && fs.existsSync('/proc/self/stat');

/** Send a signal to a whole group; false when the group has no member left at all. */
function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch (err) {
    // EPERM: a member exists but is not ours (setuid); it still counts as present.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Live pids whose process group is pgid, zombies excluded (a zombie holds no
 * resources; it only waits for its parent, possibly a PID 1 that never reaps).
 * Without /proc, the group can only be probed as a whole: [pgid] stands for
 * "something in the group is still there".
 */
export function groupSurvivors(pgid: number): number[] {
  if (!Number.isInteger(pgid) || pgid <= 1) return [];
  // Cheap probe first: ESRCH means not even a zombie is left, skip the scan.
  if (!signalGroup(pgid, 0)) return [];
  if (!HAS_PROC) return [pgid];
  const alive: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [pgid];
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // exited between readdir and read
    }
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
    const close = stat.lastIndexOf(')');
    if (close < 0) continue;
    const fields = stat.slice(close + 2).split(' ', 3);
    const state = fields[0];
    if (state === 'Z' || state === 'X' || state === 'x') continue;
    if (Number(fields[2]) === pgid) alive.push(Number(name));
  }
  return alive;
}

/**
 * SIGTERM the group, wait up to graceS for it to go, SIGKILL, wait ≤ 0.5 s
 * for the kernel, and return the pids still alive (empty when clean).
 */
export async function killGroup(pgid: number, graceS: number): Promise<number[]> {
  if (!Number.isInteger(pgid) || pgid <= 1) return [];
  if (!signalGroup(pgid, 'SIGTERM')) return [];
  signalGroup(pgid, 'SIGCONT');
  const graceEnd = Date.now() + Math.max(0, graceS) * 1000;
  for (;;) {
    if (groupSurvivors(pgid).length === 0) return [];
    const left = graceEnd - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(POLL_MS, left));
  }
  signalGroup(pgid, 'SIGKILL');
  const reapEnd = Date.now() + REAP_WAIT_MS;
  for (;;) {
    const alive = groupSurvivors(pgid);
    if (alive.length === 0) return [];
    const left = reapEnd - Date.now();
    if (left <= 0) return alive;
    await sleep(Math.min(10, left));
  }
}

// ---------------------------------------------------------------- log reading

/**
 * The end of the byte range [start, end) of a file: at most TAIL_MAX_LINES
 * lines and TAIL_MAX_BYTES bytes, starting on a line boundary when the window
 * holds one (else it is the end of one long line), never inside a UTF-8 character.
 */
export function readTail(file: string, start: number, end: number): string {
  const len = Math.min(TAIL_MAX_BYTES, Math.max(0, end - start));
  if (len === 0) return '';
  // One byte more when the window begins inside the range: it tells whether
  // the window's first line is whole.
  const extra = end - len > start ? 1 : 0;
  const buf = Buffer.alloc(len + extra);
  const fd = fs.openSync(file, 'r');
  let got = 0;
  try {
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, end - buf.length + got);
      if (n === 0) break;
      got += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  const fragmentFirst = extra === 1 && got > 0 && buf[0] !== 0x0a;
  let win = buf.subarray(extra, got);
  // Walk back over at most TAIL_MAX_LINES lines (a final "\n" ends the last
  // line; it does not start another one).
  let from = -1;
  let lines = 0;
  let i = win.length - 1;
  if (i >= 0 && win[i] === 0x0a) i--;
  for (; i >= 0; i--) {
    if (win[i] !== 0x0a) continue;
    if (++lines === TAIL_MAX_LINES) {
      from = i + 1;
      break;
    }
  }
  if (from < 0) {
    from = 0;
    if (fragmentFirst) {
      // Drop the partial first line when a whole line follows it.
      const nl = win.indexOf(0x0a);
      if (nl >= 0 && nl < win.length - 1) from = nl + 1;
    }
  }
  win = win.subarray(from);
  // Never start inside a multi-byte character (continuation bytes are 10xxxxxx).
  let k = 0;
  while (k < win.length && k < 3 && (win[k]! & 0xc0) === 0x80) k++;
  return win.subarray(k).toString('utf8');
}

const NEEDLE = Buffer.from('\nMETRIC');

/**
 * Lines in [start, end) of a file that start with "METRIC", streamed with one
 * fixed buffer. Keeps the last METRIC_MAX_LINES lines (a later line supersedes
 * an earlier one), each cut to METRIC_MAX_LINE_BYTES. chunkBytes is for tests.
 */
export async function scanMetricLines(
  file: string,
  start: number,
  end: number,
  chunkBytes = 1 << 20,
): Promise<string[]> {
  const keep = NEEDLE.length - 1; // bytes that may hold the start of a split needle
  const buf = Buffer.alloc(Math.max(chunkBytes, NEEDLE.length) + keep);
  const ring: string[] = [];
  let total = 0;
  let parts: Buffer[] = [];
  let partBytes = 0;
  let cut = false;
  let inLine = false;

  const take = (b: Buffer): void => {
    const room = METRIC_MAX_LINE_BYTES - partBytes;
    if (b.length > room) cut = true;
    const piece = b.length > room ? b.subarray(0, room) : b;
    if (piece.length === 0) return;
    parts.push(Buffer.from(piece)); // copy: buf is reused for the next chunk
    partBytes += piece.length;
  };
  const finish = (): void => {
    let line = Buffer.concat(parts).toString('utf8');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (cut) line += METRIC_TRUNCATED_MARK;
    ring[total % METRIC_MAX_LINES] = line;
    total++;
    parts = [];
    partBytes = 0;
    cut = false;
    inLine = false;
  };

  const fh = await fs.promises.open(file, 'r');
  try {
    // A virtual "\n" before the range: its first line starts a line too.
    buf[0] = 0x0a;
    let have = 1;
    let pos = start;
    while (pos < end) {
      const want = Math.min(buf.length - have, end - pos);
      const { bytesRead } = await fh.read(buf, have, want, pos);
      if (bytesRead === 0) break; // file shrank under us; use what we have
      pos += bytesRead;
      const len = have + bytesRead;
      let p = 0;
      for (;;) {
        if (inLine) {
          const nl = buf.indexOf(0x0a, p);
          if (nl < 0 || nl >= len) {
            take(buf.subarray(p, len));
            have = 0;
            break;
          }
          take(buf.subarray(p, nl));
          finish();
          p = nl; // that "\n" may begin the next needle
        } else {
          const hit = buf.subarray(0, len).indexOf(NEEDLE, p);
          if (hit < 0) {
            // Carry the last bytes over: a needle may straddle the chunk boundary.
            const from = Math.max(p, len - keep);
            buf.copyWithin(0, from, len);
            have = len - from;
            break;
          }
          inLine = true;
          p = hit + 1;
        }
      }
    }
    if (inLine) finish();
  } finally {
    await fh.close();
  }
  if (total <= METRIC_MAX_LINES) return ring;
  const first = total % METRIC_MAX_LINES;
  return [...ring.slice(first), ...ring.slice(0, first)];
}

// ---------------------------------------------------------------- the run

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function emptyOutcome(extra: Partial<RunOutcome>): RunOutcome {
  return {
    exitCode: null,
    signal: null,
    timedOut: false,
    interrupted: false,
    durationS: 0,
    survivors: [],
    metricLines: [],
    tail: '',
    spawnError: null,
    ...extra,
  };
}

/** Open the log for appending and write the header on a line of its own. */
function openLog(file: string, header: string | undefined): number {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a+');
  if (header !== undefined) {
    const size = fs.fstatSync(fd).size;
    let prefix = '';
    if (size > 0) {
      // An earlier run may have ended mid-line: keep the header on its own line.
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    const text = prefix + header + (header.endsWith('\n') ? '' : '\n');
    fs.writeSync(fd, text);
  }
  return fd;
}

function cwdProblem(cwd: string): string | null {
  try {
    if (!fs.statSync(cwd).isDirectory()) return `cwd is not a directory: ${cwd}`;
    return null;
  } catch (err) {
    return `cwd does not exist or is unreadable: ${cwd} (${(err as NodeJS.ErrnoException).code ?? describe(err)})`;
  }
}

/** Run one command under the watchdog. Never throws for a failing command. */
export async function runUnderWatchdog(spec: RunSpec): Promise<RunOutcome> {
  let fd: number;
  try {
    fd = openLog(spec.logFile, spec.header);
  } catch (err) {
    return emptyOutcome({ spawnError: `cannot open log ${spec.logFile}: ${describe(err)}` });
  }

  const start = fs.fstatSync(fd).size;
  const refuse = (reason: string, extra: Partial<RunOutcome> = {}): RunOutcome => {
    try {
      fs.writeSync(fd, `watchdog: not started: ${reason}\n`);
    } catch {
      // the outcome carries the reason anyway
    }
    fs.closeSync(fd);
    return emptyOutcome({ spawnError: reason, ...extra });
  };

  if (spec.signal?.aborted) return refuse('interrupted before start', { spawnError: null, interrupted: true });
  const bad = cwdProblem(spec.cwd);
  if (bad) return refuse(bad);

  const t0 = performance.now();
  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', ['-c', spec.command], {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true, // setsid: a group of its own, reachable as -pid
      stdio: ['ignore', fd, fd],
    });
  } catch (err) {
    return refuse(describe(err));
  }

  // Resolves with the exit status, or with the spawn error if the OS refused.
  const ended = new Promise<{ code: number | null; sig: string | null; error: string | null }>((resolve) => {
    child.once('exit', (code, sig) => resolve({ code, sig, error: null }));
    child.on('error', (err) => {
      if (child.pid === undefined) resolve({ code: null, sig: null, error: describe(err) });
    });
  });
  // The child holds its own copy of the descriptor now.
  fs.closeSync(fd);

  const pgid = child.pid;
  if (pgid === undefined) {
    const r = await ended;
    return emptyOutcome({ spawnError: r.error ?? 'spawn failed', durationS: (performance.now() - t0) / 1000 });
  }

  let timedOut = false;
  let interrupted = false;
  let killing: Promise<number[]> | null = null;
  const startKill = (): void => {
    killing ??= killGroup(pgid, spec.graceS);
  };

  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = Math.max(0, spec.timeoutS) * 1000;
  if (Number.isFinite(timeoutMs) && timeoutMs <= MAX_TIMER_MS) {
    timer = setTimeout(() => {
      if (killing) return;
      timedOut = true;
      startKill();
    }, timeoutMs);
  }
  const onAbort = (): void => {
    if (killing) return;
    interrupted = true;
    startKill();
  };
  spec.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    spec.onStart?.(pgid);
  } catch {
    // a failing callback must not leave the command unsupervised
  }
  // The abort may have fired while onStart ran; the listener was already in place.

  const r = await ended;
  const durationS = (performance.now() - t0) / 1000;
  if (timer) clearTimeout(timer);

  // After a normal exit, background members may remain: same kill sequence.
  if (!killing && groupSurvivors(pgid).length > 0) startKill();
  const survivors = killing ? await killing : [];
  spec.signal?.removeEventListener('abort', onAbort);

  let end = start;
  let tail = '';
  let metricLines: string[] = [];
  try {
    end = fs.statSync(spec.logFile).size;
    tail = readTail(spec.logFile, start, end);
    metricLines = await scanMetricLines(spec.logFile, start, end);
  } catch {
    // The log vanished or was truncated mid-run: no tail, no metrics.
  }

  return {
    exitCode: r.code,
    signal: r.sig,
    timedOut,
    interrupted,
    durationS,
    survivors,
    metricLines,
    tail,
    spawnError: r.error,
  };
}
