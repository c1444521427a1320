// Class 3 of issue 11: no orphans. A daemon that leaves the process group
// (setsid) is killed in both containment modes; SIGHUP ends a run like SIGTERM;
// repair never kills a process that reused a recorded pid.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { alive, engine, engineAsync, makeRepo, processesIn, waitFor } from './helpers/engine.ts';
import { procStart } from '../scripts/lib/procs.ts';

const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');

// A daemon: setsid (a session and group of its own), ignores SIGTERM, records its host pid.
const DAEMON = `const fs = require('node:fs');
process.on('SIGTERM', () => {});
fs.writeFileSync('.daemon', fs.readlinkSync('/proc/self'));
setInterval(() => {}, 1000);
`;
const BENCH = 'setsid node daemon.cjs &\nwhile [ ! -s .daemon ]; do sleep 0.05; done\necho METRIC score=$(cat src/v)\n';

function init(repo: string, extra: string[] = []) {
  const r = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', ...extra], repo);
  expect(r.code).toBe(0);
}

describe('no orphans', () => {
  for (const mode of ['readonly', 'pidns', 'group']) {
    it(`kills a setsid daemon the benchmark leaves behind (${mode})`, async () => {
      const repo = makeRepo({ 'bench.sh': BENCH, 'daemon.cjs': DAEMON, 'src/v': '10' });
      init(repo, ['--grace', '0.5']);
      const r = engine('run-experiment', ['--json'], repo, { AUTOLOOP_CONTAINMENT: mode });
      expect(r.json).toMatchObject({ status: 'ok', primary: 10 });
      const pid = Number(read(repo, '.daemon'));
      expect(pid).toBeGreaterThan(1);
      // Nothing else would ever kill the daemon (it ignores SIGTERM): waiting is no speed check, and
      // a survivor fails the test when the wait gives up. Under `readonly` its recorded pid is its
      // namespace's, so it is found from outside by its working directory.
      await waitFor(() => processesIn(repo).length === 0 && (mode === 'readonly' || !alive(pid)));
      expect(processesIn(repo)).toEqual([]);
      if (mode !== 'readonly') expect(alive(pid)).toBe(false);
      const rec = JSON.parse(read(repo, '.autoloop/experiments/exp/runs/r0001/result.json')) as { containment: string };
      expect(rec.containment).toBe(mode);
    });
  }

  it('the status says which containment is in force', () => {
    const repo = makeRepo({ 'bench.sh': 'echo METRIC score=1\n', 'src/v': '1' });
    init(repo);
    engine('run-experiment', [], repo);
    const st = engine('status', ['--json'], repo);
    expect(st.json?.containment).toBe('readonly');
    expect(engine('status', [], repo).stdout).toMatch(/containment: PID namespace/);
    expect(engine('status', ['--json'], repo, { AUTOLOOP_CONTAINMENT: 'pidns' }).json?.containment).toBe('pidns');
  });

  it('SIGHUP ends a run like SIGTERM: interrupted, its processes killed', async () => {
    const repo = makeRepo({ 'bench.sh': 'node daemon.cjs\n', 'daemon.cjs': DAEMON, 'src/v': '1' });
    init(repo, ['--timeout', '120', '--grace', '0.5']);
    const child = engineAsync('run-experiment', [], repo);
    await waitFor(() => fs.existsSync(path.join(repo, '.daemon')) && read(repo, '.daemon') !== '');
    expect(processesIn(repo).length).toBeGreaterThan(0);
    child.kill('SIGHUP');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(130);
    // By where it works: under `readonly` the pid the daemon sees is its namespace's.
    expect(processesIn(repo)).toEqual([]);
    const rec = JSON.parse(read(repo, '.autoloop/experiments/exp/runs/r0001/result.json')) as { phase: string };
    expect(rec.phase).toBe('interrupted');
  });

  it('repair never kills a process that reused a recorded pid', async () => {
    const repo = makeRepo({ 'bench.sh': 'echo METRIC score=1\n', 'src/v': '1' });
    init(repo);
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    const pid = bystander.pid as number;
    const start = procStart(pid);
    expect(start).not.toBeNull();
    // unclean.json names that pid, but with another start time: a recycled pid.
    fs.writeFileSync(path.join(repo, '.autoloop/experiments/exp/unclean.json'), JSON.stringify({ run_id: 'r0001', pids: [pid], starts: { [pid]: String(Number(start) - 1) } }));
    expect(engine('run-experiment', [], repo).code).toBe(1);
    expect(engine('control', ['repair'], repo).code).toBe(0);
    expect(alive(pid)).toBe(true);
    expect(fs.existsSync(path.join(repo, '.autoloop/experiments/exp/unclean.json'))).toBe(false);
    bystander.kill('SIGKILL');
  });
});
