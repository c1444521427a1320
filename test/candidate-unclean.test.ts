// Two candidates whose benchmarks both leave a survivor (group containment, a
// real process frozen in a cgroup v1 freezer, so SIGKILL cannot end it until
// it is thawed): unclean.json names both runs, each run's `unclean` event is in
// the ledger, and one `control repair` clears both. Written outside the ledger
// lock, one candidate's record overwrote the other's, and repair never knew of
// the first one's process.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { engine, engineAsync, finished, ledger, makeRepo, ROOT, waitFor } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const FREEZER = '/sys/fs/cgroup/freezer';
const PREFIX = `autoloop-test-${process.pid}`;

// A process that leaves the group (setsid) but carries the run's token, frozen: it outlives the kill.
const BENCH = `if [ -f src/survive ]; then
  cg="${FREEZER}/${PREFIX}-$AUTOLOOP_RUN"
  mkdir -p "$cg"
  setsid sleep 600 &
  echo $! > "$cg/cgroup.procs"
  echo FROZEN > "$cg/freezer.state"
  touch "$GATE_DIR/up-$AUTOLOOP_RUN"
  while [ ! -f "$GATE_DIR/go" ]; do sleep 0.05; done
fi
echo METRIC score=$(cat src/v)
`;

const ENV = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`), AUTOLOOP_CONTAINMENT: 'group' };

function thawAll(): void {
  for (const name of fs.existsSync(FREEZER) ? fs.readdirSync(FREEZER) : []) {
    if (!name.startsWith(PREFIX)) continue;
    const cg = path.join(FREEZER, name);
    fs.writeFileSync(path.join(cg, 'freezer.state'), 'THAWED');
  }
}

function removeGroups(): void {
  for (const name of fs.existsSync(FREEZER) ? fs.readdirSync(FREEZER) : []) {
    if (!name.startsWith(PREFIX)) continue;
    const cg = path.join(FREEZER, name);
    // Thawed, the pending SIGKILL ends the process; the group is removed once empty.
    const empty = () => fs.readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').trim() === '';
    for (let i = 0; i < 200 && !empty(); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
    fs.rmdirSync(cg);
  }
}

/** Can this process make a freezer group (root, cgroup v1)? The machines this suite runs on can; others say so and skip. */
function freezerUsable(): boolean {
  const probe = path.join(FREEZER, `${PREFIX}-probe`);
  try {
    fs.mkdirSync(probe);
    fs.rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}
const FREEZABLE = freezerUsable();
if (!FREEZABLE) console.warn(`candidate-unclean: skipped: ${FREEZER} is not writable here (needs root and cgroup v1), so no process can outlive SIGKILL`);

const made: string[] = [];
afterEach(() => {
  thawAll();
  removeGroups();
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});


describe('survivors of two candidates at once', { timeout: 600_000 }, () => {
  it.skipIf(!FREEZABLE)('unclean.json names both runs, with their events; one repair kills both', async () => {
    const gate = tmpDir('autoloop-unclean-gate-');
    made.push(gate);
    const dir = makeRepo({ 'bench.sh': BENCH, 'src/v': '10\n' });
    made.push(dir);
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1', '--parallel', '2', '--parallel-timing', 'parallel', '--grace', '0.2'], dir, { ...ENV, GATE_DIR: gate });
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], dir, ENV).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], dir, ENV).code).toBe(0);
    const ids: string[] = [];
    for (const v of ['5', '7']) {
      const c = engine('candidate', ['start', '--json'], dir, ENV).json as { candidate: string; path: string };
      fs.writeFileSync(path.join(c.path, 'src/v'), `${v}\n`);
      fs.writeFileSync(path.join(c.path, 'src/survive'), 'x\n');
      ids.push(c.candidate);
    }
    const runs = ids.map((id) => finished(engineAsync('run-experiment', ['--candidate', id, '--json'], dir, ENV)));
    // Both benchmarks are in flight, each with its frozen process, before either ends.
    await waitFor(() => fs.readdirSync(gate).filter((f) => f.startsWith('up-')).length === 2);
    fs.writeFileSync(path.join(gate, 'go'), '');
    const results = await Promise.all(runs);
    const measured = results.map((r) => JSON.parse(r.out) as { run_id: string; status: string; reason: string });
    for (const m of measured) {
      expect(m.status).toBe('crash');
      expect(m.reason).toMatch(/processes survived the kill/);
    }
    const runIds = measured.map((m) => m.run_id).sort();
    const unclean = JSON.parse(fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/unclean.json'), 'utf8')) as { run_id: string; pids: number[]; runs?: { run_id: string; pids: number[] }[] };
    expect((unclean.runs ?? []).map((r) => r.run_id).sort()).toEqual(runIds);
    // The top level keeps its old shape: every pid, each with its start time.
    expect(unclean.pids).toHaveLength(2);
    expect(runIds).toContain(unclean.run_id);
    const events = ledger(dir).filter((l) => l.type === 'event' && l.event === 'unclean').map((l) => String(l.run_id)).sort();
    expect(events).toEqual(runIds);
    // The next run refuses, naming both.
    const refused = engine('run-experiment', ['--candidate', ids[0] as string], dir, ENV);
    expect(refused.code).toBe(1);
    // (In the order they were recorded.)
    const named = /processes of runs (r\d+), (r\d+) survived/.exec(refused.stderr);
    expect(named?.slice(1).sort()).toEqual(runIds);
    // Thawed, both die of the SIGKILL already sent; repair finds them gone and clears the record.
    thawAll();
    const repaired = engine('control', ['repair'], dir, ENV);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(fs.existsSync(path.join(dir, '.autoloop/experiments/exp/unclean.json'))).toBe(false);
  });
});
