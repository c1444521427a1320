// The guardian (scripts/lib/runners/guardian.ts): in `group` containment a
// daemon that double-forks and calls setsid leaves the run's process group,
// and a SIGKILL of the engine leaves nothing in the engine to find it. The
// guardian the engine started learns of the death from its pipe and kills
// whatever carries the run's token: no `control repair`. Where the guardian is
// gone too (AUTOLOOP_FAULT_AT=guardian), the old fallback still holds: the
// next call refuses, repair kills.
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alive, engine, engineAsync, makeRepo, processesIn, waitFor } from './helpers/engine.ts';
import { procStart } from '../scripts/lib/procs.ts';
import { applyLine } from '../scripts/lib/commands/guardian.ts';
import type { RunHandle } from '../scripts/lib/runners/types.ts';

// Ignores SIGTERM, records its pid (in the folder it is given), lives until killed.
const DAEMON = `const fs = require('node:fs');
process.on('SIGTERM', () => {});
fs.writeFileSync(process.argv[2] + '/daemon', fs.readlinkSync('/proc/self'));
setInterval(() => {}, 1000);
`;
// While <side>/hang exists: a double fork (the subshell's child calls setsid and the subshell exits at
// once, so the daemon is reparented away from the benchmark, in a session and group of its own), then
// the benchmark waits (mid-run) for the engine's kill. Otherwise a plain sample. The side folder is
// outside the repository: nothing there is the experiment's.
const bench = (side: string): string =>
  `if [ -e '${side}/hang' ]; then\n  ( setsid node daemon.cjs '${side}' & )\n  while [ ! -s '${side}/daemon' ]; do sleep 0.05; done\n  while :; do sleep 1; done\nfi\necho METRIC score=$(cat src/v)\n`;

const sides: string[] = [];
afterEach(() => {
  for (const d of sides.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function setUp(): { repo: string; side: string } {
  const side = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-guardian-')));
  sides.push(side);
  fs.writeFileSync(path.join(side, 'hang'), '');
  const repo = makeRepo({ 'bench.sh': bench(side), 'daemon.cjs': DAEMON, 'src/v': '10' });
  const r = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--timeout', '3600', '--grace', '0.5'], repo);
  expect(r.code, r.stderr).toBe(0);
  return { repo, side };
}

/** Start a run (group mode unless env says otherwise), wait until its daemon is up outside the group, SIGKILL the engine; the daemon's pid and start. */
async function killEngineMidRun({ repo, side }: { repo: string; side: string }, env: Record<string, string>): Promise<{ pid: number; start: string | null }> {
  const child = engineAsync('run-experiment', [], repo, { AUTOLOOP_CONTAINMENT: 'group', ...env });
  const ended = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, sig) => r(sig)));
  const daemon = path.join(side, 'daemon');
  await waitFor(() => fs.existsSync(daemon) && fs.readFileSync(daemon, 'utf8').length > 0);
  const pid = Number(fs.readFileSync(daemon, 'utf8'));
  const start = procStart(pid);
  expect(alive(pid, start)).toBe(true);
  // It left the benchmark's group: a process group alone cannot hold it.
  expect(fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]?.split(' ')[2]).toBe(String(pid));
  child.kill('SIGKILL');
  expect(await ended).toBe('SIGKILL');
  return { pid, start };
}

describe('the guardian', () => {
  it('group mode: a double-forked setsid daemon is gone after a SIGKILL of the engine, and the next call measures without repair', async () => {
    const at = setUp();
    const { repo } = at;
    const d = await killEngineMidRun(at, {});
    try {
      // Nothing else would kill it (it ignores SIGTERM): the wait gives up only for a hung test.
      await waitFor(() => !alive(d.pid, d.start) && processesIn(repo).length === 0);
    } finally {
      if (alive(d.pid, d.start)) process.kill(d.pid, 'SIGKILL');
    }
    expect(processesIn(repo)).toEqual([]);
    fs.rmSync(path.join(at.side, 'hang'));
    const next = engine('run-experiment', ['--json'], repo, { AUTOLOOP_CONTAINMENT: 'group' });
    expect(next.json, next.stderr).toMatchObject({ status: 'ok', primary: 10 });
  });

  it('pidns without setpriv (the run does not die with the engine): the guardian ends the namespace, the daemon with it', async () => {
    const at = setUp();
    const d = await killEngineMidRun(at, { AUTOLOOP_CONTAINMENT: 'pidns', AUTOLOOP_FAULT_AT: 'setpriv' });
    try {
      await waitFor(() => !alive(d.pid, d.start) && processesIn(at.repo).length === 0);
    } finally {
      if (alive(d.pid, d.start)) process.kill(d.pid, 'SIGKILL');
    }
    expect(processesIn(at.repo)).toEqual([]);
  });

  it('group mode, the guardian gone too: the daemon lives on, the next call refuses naming it, repair kills it', async () => {
    const at = setUp();
    const { repo } = at;
    const d = await killEngineMidRun(at, { AUTOLOOP_FAULT_AT: 'guardian' });
    try {
      const refused = engine('run-experiment', [], repo, { AUTOLOOP_CONTAINMENT: 'group' });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(new RegExp(`survived \\(pids [0-9, ]*\\b${d.pid}\\b`));
      expect(alive(d.pid, d.start)).toBe(true);
      const repaired = engine('control', ['repair'], repo);
      expect(repaired.code, repaired.stderr).toBe(0);
      expect(alive(d.pid, d.start)).toBe(false);
    } finally {
      if (alive(d.pid, d.start)) process.kill(d.pid, 'SIGKILL');
    }
  });
});

describe('the guardian’s lines', () => {
  it('keeps the latest handle of each open run, drops a run that ended, and ignores what makes no sense', () => {
    const open = new Map<string, { handle: RunHandle; grace: number }>();
    applyLine(open, JSON.stringify({ watch: { runner: 'local', pgid: 0, start: null, token: 'a' }, grace: 2 }));
    applyLine(open, JSON.stringify({ watch: { runner: 'local', pgid: 4242, start: '99', token: 'a' }, grace: 2 }));
    applyLine(open, JSON.stringify({ watch: { runner: 'slurm', job_id: null, token: 'b' }, grace: 1 }));
    applyLine(open, JSON.stringify({ watch: { runner: 'slurm', job_id: '17', token: 'b' }, grace: -3 }));
    for (const bad of ['{"watch":', 'null', '7', '{"watch":{"runner":"local","pgid":"x","start":null,"token":"c"}}', '{"watch":{"runner":"cloud","token":"d"}}', '{"watch":{"runner":"slurm","job_id":null}}']) applyLine(open, bad);
    expect([...open]).toEqual([
      ['a', { handle: { runner: 'local', pgid: 4242, start: '99', token: 'a' }, grace: 2 }],
      ['b', { handle: { runner: 'slurm', job_id: '17', token: 'b' }, grace: 1 }],
    ]);
    applyLine(open, JSON.stringify({ done: 'a' }));
    expect([...open.keys()]).toEqual(['b']);
  });
});
