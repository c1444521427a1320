// Real processes only: every command here is a real /bin/sh tree.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { groupSurvivors, killGroup, localRunner } from '../scripts/lib/runners/local.ts';
import { procStart } from '../scripts/lib/procs.ts';
import { TAIL_MAX_BYTES, TAIL_MAX_LINES, readTail } from '../scripts/lib/runners/log.ts';
import type { RunHandle, RunRequest } from '../scripts/lib/runners/types.ts';
import { METRIC_INDENTED_MARK, METRIC_MAX_LINE_BYTES, METRIC_MAX_PREFIX_BYTES, METRIC_TRUNCATED_MARK, scanMetricLines } from '../scripts/lib/sources/metric-lines.ts';

// These tests are about the process group (its pgid, its kill sequence): the
// PID-namespace containment is tested in containment.test.ts.
process.env.AUTOLOOP_CONTAINMENT = 'group';

const PROCS = fileURLToPath(new URL('./fixtures/procs/', import.meta.url));
const fixture = (name: string): string => JSON.stringify(path.join(PROCS, name));

let dir: string;
let log: string;
/**
 * Groups started by a test, killed afterwards whatever happened, with their
 * leader's start time: pids wrap within minutes on a loaded machine, and a
 * leader's pid now held by a newer process may lead another test's group.
 */
const started: { pgid: number; start: string | null }[] = [];
const track = (pgid: number): void => void started.push({ pgid, start: procStart(pgid) });

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-wd-'));
  log = path.join(dir, 'logs', 'output.log');
});
afterEach(() => {
  for (const { pgid, start } of started.splice(0)) {
    // A pid in use is never given to a new process, so while our group lives its id is ours;
    // a leader's pid held by another process means our group is gone.
    const now = procStart(pgid);
    if (now !== null && now !== start) continue;
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone: the expected case
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

interface RunSpec extends Omit<RunRequest, 'env' | 'onStart'> {
  env?: Record<string, string>;
  onStart?: (pgid: number) => void;
}

function spec(command: string, over: Partial<RunSpec> = {}): RunSpec {
  return {
    command,
    cwd: dir,
    timeoutS: 20,
    graceS: 1,
    logFile: log,
    onStart: track,
    ...over,
  };
}

const pgidOf = (h: RunHandle): number => (h.runner === 'local' ? h.pgid : -1);

/** One command through the local runner, its METRIC lines read from the sample's log range as the engine does. */
async function runUnderWatchdog(s: RunSpec) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  // The handle is first told with the token alone (pgid 0, before the spawn): the group comes next.
  const r = await localRunner.run({ ...s, env: { ...env, ...s.env }, onStart: (h) => (pgidOf(h) > 1 ? s.onStart?.(pgidOf(h)) : undefined) });
  const metricLines = fs.existsSync(s.logFile) ? await scanMetricLines(s.logFile, r.log.start, r.log.end) : [];
  return { ...r, survivors: r.survivors.map(Number), metricLines };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead for our purposes (it only waits to be reaped).
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function pidsIn(file: string): number[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}

// The deadline only ends a hung test; it is not a speed check.
async function waitFor(file: string, ms = 240_000): Promise<void> {
  const until = Date.now() + ms;
  while (!fs.existsSync(file)) {
    if (Date.now() > until) throw new Error(`${file} never appeared`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('localRunner.run', () => {
  it('runs a fast command, keeps its METRIC lines and tail, writes the header', async () => {
    const out = await runUnderWatchdog(
      spec('echo hello; echo "METRIC ms=12.5"; echo " METRIC not=1"; echo "METRIC n=3" >&2', {
        header: '== sample 1/3: bench',
      }),
    );
    expect(out.spawnError).toBeNull();
    expect(out.exitCode).toBe(0);
    expect(out.signal).toBeNull();
    expect(out.timedOut).toBe(false);
    expect(out.interrupted).toBe(false);
    expect(out.survivors).toEqual([]);
    // An indented METRIC line is kept marked, to be refused with its reason (not read, not ignored).
    expect(out.metricLines).toEqual(['METRIC ms=12.5', `${METRIC_INDENTED_MARK}METRIC not=1`, 'METRIC n=3']);
    expect(out.tail).toBe('hello\nMETRIC ms=12.5\n METRIC not=1\nMETRIC n=3\n');
    expect(out.durationS).toBeGreaterThan(0);
    const text = fs.readFileSync(log, 'utf8');
    expect(text).toBe('== sample 1/3: bench\n' + out.tail);
  });

  it('runs the command by the shell as written, in cwd, with env merged over process.env', async () => {
    fs.writeFileSync(path.join(dir, 'marker.txt'), 'here\n');
    const out = await runUnderWatchdog(
      spec('cat marker.txt | tr a-z A-Z; echo "METRIC v=$WD_VALUE"; echo "METRIC path=${PATH:+set}"', {
        env: { WD_VALUE: 'a b;c' },
      }),
    );
    expect(out.tail).toContain('HERE');
    expect(out.metricLines).toEqual(['METRIC v=a b;c', 'METRIC path=set']);
  });

  it('reports a non-zero exit code', async () => {
    const out = await runUnderWatchdog(spec('echo failing; exit 3'));
    expect(out.exitCode).toBe(3);
    expect(out.signal).toBeNull();
    expect(out.timedOut).toBe(false);
    expect(out.spawnError).toBeNull();
    expect(out.tail).toBe('failing\n');
  });

  it('runs the command in a process group of its own and reports it to onStart', async () => {
    let seen = -1;
    const out = await runUnderWatchdog(spec(`sh ${fixture('pgid.sh')}`, { onStart: (g) => (seen = g) }));
    expect(seen).toBeGreaterThan(1);
    expect(out.metricLines).toEqual([`METRIC pgid=${seen}`]);
    expect(seen).not.toBe(process.pid);
  });

  it('times out a slow command with SIGTERM, without waiting for the grace when it obeys', async () => {
    const t0 = Date.now();
    // A grace far longer than any delay a busy machine causes: ending before it
    // shows the grace was not waited.
    const graceS = 120;
    const out = await runUnderWatchdog(spec('echo start; sleep 600', { timeoutS: 0.5, graceS }));
    const elapsed = (Date.now() - t0) / 1000;
    expect(out.timedOut).toBe(true);
    expect(out.interrupted).toBe(false);
    expect(out.exitCode).toBeNull();
    expect(out.signal).toBe('SIGTERM');
    expect(out.survivors).toEqual([]);
    expect(out.durationS).toBeGreaterThanOrEqual(0.45);
    expect(elapsed).toBeLessThan(graceS);
    expect(out.tail).toBe('start\n');
  });

  it('kills a tree that ignores SIGTERM within timeout + grace, leaving no pid alive', async () => {
    const pidfile = path.join(dir, 'pids');
    // The timeout is the time the tree gets to start all six processes (the grace alone is
    // not enough: SIGKILL at its end takes whatever is up). About 0.1 s here beside four
    // busy processes at load 18; 3 s leaves a loaded machine room.
    const timeoutS = 3;
    const graceS = 0.5;
    const t0 = Date.now();
    // exec: the stubborn shell itself is the group leader and the exit status.
    const out = await runUnderWatchdog(spec(`exec sh ${fixture("stubborn.sh")} ${pidfile}`, { timeoutS, graceS }));
    const elapsed = (Date.now() - t0) / 1000;
    expect(fs.existsSync(`${pidfile}.ready`)).toBe(true);
    const pids = pidsIn(pidfile);
    expect(pids).toHaveLength(6);
    expect(pids.filter(alive)).toEqual([]);
    expect(out.survivors).toEqual([]);
    expect(out.timedOut).toBe(true);
    expect(out.signal).toBe('SIGKILL');
    // The grace was really waited: SIGTERM alone did not end it.
    expect(elapsed).toBeGreaterThanOrEqual(timeoutS + graceS - 0.05);
    // How soon after the grace the tree is dead is a figure of bench/watchdog.ts.
    expect(out.tail).toBe('stubborn tree up\n');
  });

  it('kills background processes left behind by a command that exits 0', async () => {
    const pidfile = path.join(dir, 'server.pid');
    const t0 = Date.now();
    const graceS = 120; // see above: ending before it shows the grace was not waited
    const out = await runUnderWatchdog(spec(`sh ${fixture('background.sh')} ${pidfile}`, { graceS }));
    const elapsed = (Date.now() - t0) / 1000;
    expect(out.exitCode).toBe(0);
    expect(out.timedOut).toBe(false);
    expect(out.survivors).toEqual([]);
    expect(out.metricLines).toEqual(['METRIC started=1']);
    const [server] = pidsIn(pidfile);
    expect(server).toBeGreaterThan(1);
    expect(alive(server!)).toBe(false);
    expect(elapsed).toBeLessThan(graceS); // the sleep obeyed SIGTERM: no grace needed
  });

  it('kills background processes that ignore SIGTERM after a normal exit too', async () => {
    const pidfile = path.join(dir, 'server.pid');
    // The main process exits only once the background one ignores SIGTERM (it writes its pid then):
    // on a loaded machine a SIGTERM that came before its trap would end it the easy way.
    const graceS = 0.3;
    const t0 = Date.now();
    const out = await runUnderWatchdog(
      spec(`sh -c 'trap "" TERM; echo $$ > ${pidfile}.tmp; mv ${pidfile}.tmp ${pidfile}; exec sleep 1000' & while [ ! -e ${pidfile} ]; do sleep 0.01; done; exit 0`, { graceS }),
    );
    expect(out.exitCode).toBe(0);
    expect(out.survivors).toEqual([]);
    expect(alive(pidsIn(pidfile)[0]!)).toBe(false);
    expect((Date.now() - t0) / 1000).toBeGreaterThanOrEqual(graceS - 0.05); // SIGTERM alone did not end it
  });

  it('on abort kills the group and reports interrupted', async () => {
    const pidfile = path.join(dir, 'pids');
    const ac = new AbortController();
    const run = runUnderWatchdog(
      spec(`sh ${fixture('stubborn.sh')} ${pidfile}`, { timeoutS: 30, graceS: 0.3, signal: ac.signal }),
    );
    await waitFor(`${pidfile}.ready`);
    ac.abort();
    const out = await run;
    expect(out.interrupted).toBe(true);
    expect(out.timedOut).toBe(false);
    expect(out.survivors).toEqual([]);
    expect(pidsIn(pidfile).filter(alive)).toEqual([]);
  });

  it('does not start a command when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    let startedHere = false;
    const out = await runUnderWatchdog(
      spec(`touch ${path.join(dir, 'ran')}`, { signal: ac.signal, onStart: () => (startedHere = true) }),
    );
    expect(out.interrupted).toBe(true);
    expect(out.exitCode).toBeNull();
    expect(startedHere).toBe(false);
    expect(fs.existsSync(path.join(dir, 'ran'))).toBe(false);
  });

  it('streams huge output to the log with a bounded tail and finds METRIC lines at both ends', async () => {
    const size = 200_000_000;
    const out = await runUnderWatchdog(
      spec(`echo "METRIC first=1"; yes 'a fairly ordinary line of benchmark output' | head -c ${size}; echo; echo "METRIC last=42"`, {
        header: '== huge',
      }),
    );
    expect(out.exitCode).toBe(0);
    expect(fs.statSync(log).size).toBe('== huge\n'.length + 'METRIC first=1\n'.length + size + 1 + 'METRIC last=42\n'.length);
    expect(out.metricLines).toEqual(['METRIC first=1', 'METRIC last=42']);
    expect(Buffer.byteLength(out.tail)).toBeLessThanOrEqual(TAIL_MAX_BYTES);
    const lines = out.tail.split('\n');
    expect(lines.at(-1)).toBe(''); // ends with the newline of the last line
    expect(lines.length - 1).toBe(TAIL_MAX_LINES);
    expect(lines.at(-2)).toBe('METRIC last=42');
    expect(lines[0]).toBe('a fairly ordinary line of benchmark output');
  });

  it('bounds the tail and a METRIC line when a line is longer than the limits', async () => {
    const n = 30_000_000;
    const out = await runUnderWatchdog(
      spec(`head -c 10000 /dev/zero | tr '\\0' a; echo; printf 'METRIC huge='; head -c ${n} /dev/zero | tr '\\0' 7`),
    );
    expect(out.exitCode).toBe(0);
    // The tail is the end of the unterminated 30 MB line.
    expect(out.tail).toBe('7'.repeat(TAIL_MAX_BYTES));
    expect(out.metricLines).toHaveLength(1);
    const m = out.metricLines[0]!;
    expect(m.startsWith('METRIC huge=777')).toBe(true);
    expect(m.endsWith(METRIC_TRUNCATED_MARK)).toBe(true);
    expect(m.length).toBe(METRIC_MAX_LINE_BYTES + METRIC_TRUNCATED_MARK.length);
  });

  it('keeps only the last 10,000 METRIC lines', async () => {
    const out = await runUnderWatchdog(spec(`seq 1 12345 | sed 's/^/METRIC i=/'`));
    expect(out.metricLines).toHaveLength(10_000);
    expect(out.metricLines[0]).toBe('METRIC i=2346');
    expect(out.metricLines.at(-1)).toBe('METRIC i=12345');
  });

  it('reports a missing cwd as spawnError without throwing', async () => {
    const out = await runUnderWatchdog(spec('echo never', { cwd: path.join(dir, 'missing'), header: '== checks' }));
    expect(out.spawnError).toMatch(/cwd/);
    expect(out.exitCode).toBeNull();
    expect(out.metricLines).toEqual([]);
    expect(out.tail).toBe('');
    const text = fs.readFileSync(log, 'utf8');
    expect(text.startsWith('== checks\n')).toBe(true);
    expect(text).not.toContain('never');
  });

  it('appends runs to one log; each sees only its own output', async () => {
    const a = await runUnderWatchdog(spec('echo "METRIC run=1"; printf "no newline at end"', { header: '== run 1' }));
    const b = await runUnderWatchdog(spec('echo "METRIC run=2"', { header: '== run 2' }));
    expect(a.metricLines).toEqual(['METRIC run=1']);
    expect(a.tail).toBe('METRIC run=1\nno newline at end');
    expect(b.metricLines).toEqual(['METRIC run=2']);
    expect(b.tail).toBe('METRIC run=2\n');
    expect(fs.readFileSync(log, 'utf8')).toBe(
      '== run 1\nMETRIC run=1\nno newline at end\n== run 2\nMETRIC run=2\n',
    );
  });
});

describe('groupSurvivors and killGroup', () => {
  function startDetached(script: string, pidfile: string): number {
    const child = spawn('/bin/sh', [path.join(PROCS, script), pidfile], { detached: true, stdio: 'ignore' });
    child.unref();
    track(child.pid!);
    return child.pid!;
  }

  it('excludes zombies from the survivors', async () => {
    const pidfile = path.join(dir, 'zombie.pid');
    const pgid = startDetached('zombie.sh', pidfile);
    await waitFor(pidfile);
    const zombie = pidsIn(pidfile)[0]!;
    // Wait until the short child has exited and is a zombie.
    const until = Date.now() + 240_000; // ends a hung test only
    while (alive(zombie) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(fs.readFileSync(`/proc/${zombie}/stat`, 'latin1')).toMatch(/\) Z /);
    expect(groupSurvivors(pgid)).toEqual([pgid]);
    expect(await killGroup(pgid, 1)).toEqual([]);
    expect(groupSurvivors(pgid)).toEqual([]);
  });

  it('kills a SIGTERM-ignoring group with SIGKILL after the grace', async () => {
    const pidfile = path.join(dir, 'pids');
    const pgid = startDetached('stubborn.sh', pidfile);
    await waitFor(`${pidfile}.ready`);
    const members = groupSurvivors(pgid);
    expect(members).toEqual(expect.arrayContaining(pidsIn(pidfile)));
    const t0 = Date.now();
    expect(await killGroup(pgid, 0.4)).toEqual([]);
    const took = (Date.now() - t0) / 1000;
    expect(took).toBeGreaterThanOrEqual(0.35);
    expect(pidsIn(pidfile).filter(alive)).toEqual([]);
  });

  it('returns at once for a group that does not exist', async () => {
    const t0 = Date.now();
    const graceS = 120; // returning before it shows the grace was not waited
    expect(await killGroup(2 ** 22 + 12345, graceS)).toEqual([]);
    expect((Date.now() - t0) / 1000).toBeLessThan(graceS);
    expect(groupSurvivors(2 ** 22 + 12345)).toEqual([]);
  });
});

describe('log reading agrees with a plain reference', () => {
  /** Reference: whole output split into lines at each line feed or carriage return (as a terminal shows them), less a prefix of indentation (marked), BOMs and colour codes, straightforwardly. */
  function refMetrics(text: string): string[] {
    const prefixed = /^((?:[ \t\uFEFF]|\x1b\[[\x20-\x3f]*[\x40-\x7e])*)METRIC/;
    return text
      .split(/\r|\n/)
      .flatMap((l) => {
        const m = prefixed.exec(l);
        const pre = m?.[1] as string;
        // A space inside an escape sequence (a CSI's intermediate bytes) indents nothing.
        return m && Buffer.byteLength(pre) <= METRIC_MAX_PREFIX_BYTES ? [{ l: l.slice(pre.length), indented: /[ \t]/.test(pre.replace(/\x1b\[[\x20-\x3f]*[\x40-\x7e]/g, '')) }] : [];
      })
      .map(({ l, indented }) => {
        const b = Buffer.from(l); // a BOM inside a line is three bytes
        const cut = b.length > METRIC_MAX_LINE_BYTES;
        const s = cut ? b.subarray(0, METRIC_MAX_LINE_BYTES).toString('utf8') : l;
        return (indented ? METRIC_INDENTED_MARK : '') + (cut ? s + METRIC_TRUNCATED_MARK : s);
      })
      .slice(-10_000);
  }
  function refTail(text: string): string {
    // Suffix of at most TAIL_MAX_LINES lines that fits TAIL_MAX_BYTES.
    const body = text.endsWith('\n') ? text.slice(0, -1) : text;
    const lines = body.split('\n');
    for (let n = Math.min(TAIL_MAX_LINES, lines.length); n >= 1; n--) {
      const s = lines.slice(-n).join('\n') + (text.endsWith('\n') ? '\n' : '');
      if (Buffer.byteLength(s) <= TAIL_MAX_BYTES) return s;
    }
    return Buffer.from(text).subarray(-TAIL_MAX_BYTES).toString('latin1');
  }

  // Short lines built from pieces that make split needles, CRLF and byte order marks likely.
  const piece = fc.constantFrom('METRIC', 'MET', 'RIC', 'x', ' ', '=', '1', '\n', '\r\n', '\r', 'METRIC a=1\n', 'yy', '\uFEFF', '\uFEFFMETRIC b=2\r\n',
    '\t', ' '.repeat(30), '\x1b[', '\x1b[32m', '\x1b[0m', '\x1b[38;2;255;0;0m', '\x1b', '[m', '\x1b[1mMETRIC c=3\x1b[0m\n');
  const text = fc.array(piece, { maxLength: 200 }).map((a) => a.join(''));

  it('scanMetricLines matches the reference for any chunk size and range', async () => {
    const file = path.join(dir, 'scan.log');
    await fc.assert(
      fc.asyncProperty(text, text, fc.integer({ min: 1, max: 200 }), async (before, body, chunk) => {
        // `before` is another run's output: it must not leak in.
        const prefix = before.endsWith('\n') || before === '' ? before : before + '\n';
        fs.writeFileSync(file, prefix + body);
        const start = Buffer.byteLength(prefix);
        const got = await scanMetricLines(file, start, start + Buffer.byteLength(body), chunk);
        expect(got).toEqual(refMetrics(body));
      }),
      { numRuns: 300 },
    );
  });

  it('readTail matches the reference on ASCII output of any length', () => {
    const file = path.join(dir, 'tail.log');
    const line = fc.string({ unit: fc.constantFrom('a', 'b', ' '), maxLength: 300 });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 120 }), fc.boolean(), fc.string({ maxLength: 50 }), (ls, nl, before) => {
        const body = ls.join('\n') + (nl && ls.length > 0 ? '\n' : '');
        const prefix = before.replace(/[^\x20-\x7e]/g, '') + '\n';
        fs.writeFileSync(file, prefix + body);
        const start = prefix.length;
        const got = readTail(file, start, start + body.length);
        expect(got).toBe(refTail(body));
      }),
      { numRuns: 300 },
    );
  });

  it('readTail never starts inside a multi-byte character', () => {
    const file = path.join(dir, 'utf8.log');
    const body = 'é'.repeat(5000); // 10,000 bytes, no newline
    fs.writeFileSync(file, body);
    const got = readTail(file, 0, Buffer.byteLength(body));
    expect(got).toBe('é'.repeat(TAIL_MAX_BYTES / 2));
    // One ASCII byte at the end shifts the window to start mid-character.
    fs.writeFileSync(file, body + 'x');
    const odd = readTail(file, 0, Buffer.byteLength(body) + 1);
    expect(odd).toBe('é'.repeat(TAIL_MAX_BYTES / 2 - 1) + 'x');
    expect(odd).not.toContain('\ufffd');
  });
});
