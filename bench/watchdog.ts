// Watchdog figures measured now: kill latency of a SIGTERM-ignoring tree, and
// the engine's peak RSS while a benchmark prints 1 GB.
// Usage: npx tsx bench/watchdog.ts
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { localRunner } from '../scripts/lib/runners/local.ts';
import { environHolders } from '../scripts/lib/procs.ts';
import { scanMetricLines } from '../scripts/lib/sources/metric-lines.ts';

const SELF = fileURLToPath(import.meta.url);
const STUBBORN = fileURLToPath(new URL('../test/fixtures/procs/stubborn.sh', import.meta.url));
const GB = 1024 ** 3;

/** Peak RSS of this process in MB (VmHWM; getrusage where /proc is missing). */
function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m?.[1]) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

interface ChildReport {
  peakMb: number;
  exitCode: number | null;
  logBytes: number;
  metricLines: string[];
  tailBytes: number;
  runS: number;
  readS: number;
}

/** Child mode: one run under the watchdog in a fresh process, then report. */
async function child(logFile: string, command: string): Promise<void> {
  const t0 = performance.now();
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  const r = await localRunner.run({ command, cwd: path.dirname(logFile), env, timeoutS: 600, graceS: 1, logFile });
  const out = { ...r, metricLines: await scanMetricLines(logFile, r.log.start, r.log.end) };
  const total = (performance.now() - t0) / 1000;
  const report: ChildReport = {
    peakMb: peakRssMb(),
    exitCode: out.exitCode,
    logBytes: fs.statSync(logFile).size,
    metricLines: out.metricLines.map((l) => (l.length > 60 ? `${l.slice(0, 60)}…(${l.length} chars)` : l)),
    tailBytes: Buffer.byteLength(out.tail),
    runS: out.durationS,
    readS: total - out.durationS,
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

function runChild(logFile: string, command: string): ChildReport {
  // Same loader flags as this process (tsx), so the child is what the engine is.
  const text = execFileSync(process.execPath, [...process.execArgv, SELF, '--child', logFile, command], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(text.trim().split('\n').at(-1) ?? '{}') as ChildReport;
}

async function killLatency(dir: string, graceS: number, rounds: number): Promise<number[]> {
  const timeoutS = 0.5;
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const pidfile = path.join(dir, `pids-${i}`);
    // The tree's pids in the file are its PID namespace's (the default containment), not ours:
    // survivors are found by a mark in their environment instead.
    const mark = `AUTOLOOP_BENCH_MARK=${process.pid}-${i}`;
    let spawnedAt = 0;
    const res = await localRunner.run({
      command: `exec sh '${STUBBORN}' '${pidfile}'`,
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AUTOLOOP_BENCH_MARK: mark.slice(mark.indexOf('=') + 1) },
      timeoutS,
      graceS,
      logFile: path.join(dir, 'latency.log'),
      // The timer is armed right after spawn, so it fires at spawnedAt + timeoutS.
      onStart: () => (spawnedAt = performance.now()),
    });
    const done = performance.now();
    const pids = fs.readFileSync(pidfile, 'utf8').split('\n').filter(Boolean).map(Number);
    const left = environHolders(Buffer.from(`${mark}\0`));
    if (!res.timedOut || res.survivors.length || left.length || pids.length < 6) {
      throw new Error(`kill latency round ${i}: unclean (survivors ${res.survivors.join(',')}; alive ${left.join(',')})`);
    }
    out.push((done - spawnedAt) / 1000 - timeoutS);
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/**
 * The read-only setup's cost: the same trivial command run with and without
 * it (interleaved, same run), in a tree shaped like a repository under the
 * loop (.autoloop/ with a scratch area, two judge files).
 */
async function readOnlyCost(dir: string, rounds: number): Promise<string> {
  const repo = path.join(dir, 'ro-repo');
  const exp = path.join(repo, '.autoloop', 'experiments', 'e');
  fs.mkdirSync(path.join(exp, 'scratch'), { recursive: true });
  for (const f of ['bench.sh', 'check.sh']) fs.writeFileSync(path.join(repo, f), 'true\n');
  const protect = { readOnly: [path.join(repo, '.autoloop'), path.join(repo, 'bench.sh'), path.join(repo, 'check.sh')], writable: [path.join(exp, 'scratch')] };
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const times: Record<'plain' | 'ro', number[]> = { plain: [], ro: [] };
  let mode = '';
  for (let i = 0; i < rounds; i++) {
    for (const arm of ['plain', 'ro'] as const) {
      const t0 = performance.now();
      const r = await localRunner.run({ command: 'true', cwd: repo, env, timeoutS: 60, graceS: 1, logFile: path.join(dir, 'ro.log'), ...(arm === 'ro' ? { protect } : {}) });
      times[arm].push(performance.now() - t0);
      if (arm === 'ro') mode = r.containment ?? '';
    }
  }
  const [p, r] = [median(times.plain), median(times.ro)];
  return `watchdog.readonly_ratio ${(r / p).toFixed(2)} (a \`true\` benchmark with the judges read-only vs without, median of ${rounds}: ${r.toFixed(1)} ms vs ${p.toFixed(1)} ms; mode ${mode || 'none'})`;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-bench-wd-'));
  const cleanup = (): void => fs.rmSync(dir, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const graceS = 1;
    const lat = await killLatency(dir, graceS, 3);
    const worst = Math.max(...lat);
    console.log(
      `watchdog.kill_latency_s ${worst.toFixed(3)} (grace ${graceS}; target <= ${graceS + 0.5}; runs ${lat.map((x) => x.toFixed(3)).join(', ')})`,
    );

    console.log(await readOnlyCost(dir, 15));

    const bare = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.resourceUsage().maxRSS))'], {
      encoding: 'utf8',
    });
    const idle = runChild(path.join(dir, 'idle.log'), 'true');

    const lines = path.join(dir, 'lines.log');
    // 100-byte lines (99 digits + newline), 1 GiB in all, then a METRIC line.
    const linesCmd = `echo "METRIC first=1"; yes "$(printf '%099d' 0)" | head -c ${GB}; echo; echo "METRIC last=42"`;
    const r = runChild(lines, linesCmd);
    fs.rmSync(lines, { force: true });
    console.log(
      `watchdog.peak_rss_mb ${r.peakMb.toFixed(1)} while the benchmark prints 1 GB (target <= 100)` +
        `; log ${(r.logBytes / GB).toFixed(3)} GiB, metricLines ${JSON.stringify(r.metricLines)}, tail ${r.tailBytes} B` +
        `, run ${r.runS.toFixed(2)} s, tail+scan ${r.readS.toFixed(2)} s`,
    );

    const long = path.join(dir, 'long.log');
    // One 1 GiB line without a newline that starts like a metric.
    const longCmd = `printf 'METRIC long='; head -c ${GB} /dev/zero | tr '\\0' 7`;
    const l = runChild(long, longCmd);
    fs.rmSync(long, { force: true });
    console.log(
      `watchdog.peak_rss_mb_one_line ${l.peakMb.toFixed(1)} while the benchmark prints a 1 GB line without newline (target <= 100)` +
        `; metricLines ${JSON.stringify(l.metricLines)}, tail ${l.tailBytes} B, tail+scan ${l.readS.toFixed(2)} s`,
    );

    console.log(
      `watchdog.baseline_rss_mb ${(Number(bare.stdout) / 1024).toFixed(1)} bare node; ${idle.peakMb.toFixed(1)} node+tsx running \`true\` under the watchdog`,
    );
  } finally {
    cleanup();
  }
}

if (process.argv[2] === '--child') {
  const [logFile, command] = process.argv.slice(3);
  if (!logFile || command === undefined) throw new Error('usage: --child LOGFILE COMMAND');
  await child(logFile, command);
} else {
  await main();
}
