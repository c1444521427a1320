// An engine killed between spawning the command and recording its process group (a scheduler can hold
// it off the CPU there while the command runs): the run record must already name the work, by the
// run's token, so that the next call finds the work and `control repair` stops it. Real engine, real processes; the engine
// dies at the crash point right after the spawn, and without setpriv (a fault point) the command
// outlives it.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { engine, makeRepo, processesIn, waitFor } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

// Up (a file in GATE_DIR), deaf to SIGTERM, never ends; sleep is exec'd, so nothing forks meanwhile.
const BENCH = "trap '' TERM\n: > \"$GATE_DIR/up\"\nexec sleep 100000\n";
const left: string[] = [];
afterEach(() => {
  for (const t of left.splice(0)) for (const pid of processesIn(t)) process.kill(pid, 'SIGKILL');
});

describe('a run whose engine dies right after the spawn', () => {
  for (const mode of ['group', 'pidns']) {
    it(`${mode}: the record names the work by its token, and control repair stops it`, async () => {
      const gate = tmpDir('autoloop-spawned-');
      const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '1\n' });
      left.push(repo);
      const env = { AUTOLOOP_CONTAINMENT: mode, GATE_DIR: gate };
      const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1', '--timeout', '600'], repo, env);
      expect(init.code, init.stderr).toBe(0);
      const killed = engine('run-experiment', ['--json'], repo, { ...env, AUTOLOOP_CRASH_AT: 'runner:spawned', AUTOLOOP_FAULT_AT: 'setpriv,guardian' });
      expect(killed.code).toBe(null); // SIGKILL at the crash point
      await waitFor(() => fs.existsSync(path.join(gate, 'up')));
      expect(processesIn(repo).length).toBeGreaterThan(0);
      const record = JSON.parse(fs.readFileSync(path.join(repo, '.autoloop/experiments/exp/runs/r0001/result.json'), 'utf8')) as { phase: string; handle: { token?: string } | null };
      expect(record.phase).toBe('running');
      expect(record.handle?.token).toMatch(/^[0-9a-f]{24}$/);
      // The next call settles the run: its survivors, found by the token, are recorded and it refuses.
      const again = engine('run-experiment', ['--json'], repo, env);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/survived.*repair/);
      const r = engine('control', ['repair'], repo, env);
      expect(r.code, r.stderr).toBe(0);
      // The kill is sent; a process on its way out may still be listed for a moment. The benchmark never
      // ends by itself, so only repair's kill can empty the list (waitFor's wait ends a hung test only).
      await waitFor(() => processesIn(repo).length === 0);
      expect(processesIn(repo)).toEqual([]);
    });
  }
});
