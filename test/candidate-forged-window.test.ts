// Parallel mode under the fallback containment (pidns: the ledger is writable to the benchmark): the
// window between a forged ledger line and its cut. (1) A candidate logged while another candidate's
// benchmark still runs beside its forged keep is judged against the real best, not the forged one
// (candidates/verified.ts). (2) A guard killed before its cut: the next ledger-locked call cuts every
// line that guard would have cut (a forged config line, an event naming no run, an event naming the
// forging run itself), and a real segment opened by init-experiment after the kill is never cut.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { engine, engineAsync, finished, fromTemplate, makeRepo, ROOT, waitFor } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const FORGED = JSON.stringify({ type: 'result', ts: new Date().toISOString(), segment: 1, run_id: 'r0099', status: 'ok', verdict: 'keep', primary: 0, samples: [0], metrics: { score: 0 }, description: 'forged', reason: 'x', duration_s: 0 });
const RUNLESS = JSON.stringify({ type: 'event', ts: new Date().toISOString(), segment: 1, event: 'terminated', data: { by: 'target', message: 'forged' } });

// src/forge: a forged keep; src/forge-more: lines naming no run (the config line copied into a segment
// 2, a terminated event) and an event naming the forging run itself; src/name: wait at a gate.
const BENCH = `L="$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")/.autoloop/experiments/exp/ledger.jsonl"
if [ -f src/forge ]; then echo '${FORGED}' >> "$L"; fi
if [ -f src/forge-more ]; then
  head -n 1 "$L" | sed 's/"segment":1,/"segment":2,/' > "$GATE_DIR/cfg"
  cat "$GATE_DIR/cfg" >> "$L"
  echo '${RUNLESS}' >> "$L"
  echo '{"type":"event","ts":"2026-12-01T00:00:00.000Z","segment":1,"event":"committed","run_id":"'"$AUTOLOOP_RUN"'","data":{"commit":"forged"}}' >> "$L"
fi
if [ -f src/name ]; then
  n=$(cat src/name)
  touch "$GATE_DIR/up-$n"
  while [ ! -f "$GATE_DIR/go-$n" ]; do sleep 0.05; done
fi
if [ -f src/forge-late ]; then echo '${FORGED}' >> "$L"; echo '${FORGED}' >> "$L"; touch "$GATE_DIR/forged"; fi
echo METRIC score=$(cat src/v)
`;

const ENV = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`), AUTOLOOP_CONTAINMENT: 'pidns' };
const GATE = tmpDir('autoloop-forged-window-');
const made: string[] = [];
const templates: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  for (const f of fs.readdirSync(GATE)) fs.rmSync(path.join(GATE, f), { force: true });
});
afterAll(() => {
  for (const d of templates.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  fs.rmSync(GATE, { recursive: true, force: true });
});

const INIT = ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1', '--parallel', '2', '--parallel-timing', 'parallel'];

function repo(extra: string[] = []): string {
  const dir = fromTemplate(`candidate-forged-window${extra.join(' ')}`, () => {
    const t = makeRepo({ 'bench.sh': BENCH, 'src/v': '10\n' });
    templates.push(t);
    const init = engine('init-experiment', [...INIT, ...extra], t, { ...ENV, GATE_DIR: GATE });
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], t, ENV).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], t, ENV).code).toBe(0);
    return t;
  });
  made.push(dir);
  return dir;
}

function open(dir: string, files: Record<string, string>): { id: string; tree: string } {
  const c = engine('candidate', ['start', '--json'], dir, ENV).json as { candidate: string; path: string };
  for (const [rel, text] of Object.entries(files)) fs.writeFileSync(path.join(c.path, rel), text);
  return { id: c.candidate, tree: c.path };
}

const stopped = (pid: number): boolean => {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] === 'T';
  } catch {
    return false;
  }
};

const ledgerText = (dir: string) => fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/ledger.jsonl'), 'utf8');
const lines = (dir: string) => ledgerText(dir).split('\n').filter((l) => l !== '');

describe('the window of a forged ledger line (fallback containment)', { timeout: 600_000 }, () => {
  it('a candidate allocated and logged while another benchmark\'s forged keep stands is judged against the real best', async () => {
    const dir = repo();
    const forger = open(dir, { 'src/v': '5\n', 'src/forge': 'x\n', 'src/name': 'a\n' });
    const other = open(dir, { 'src/v': '7\n' });
    const a = finished(engineAsync('run-experiment', ['--candidate', forger.id, '--json'], dir, { ...ENV, GATE_DIR: GATE }));
    await waitFor(() => fs.existsSync(path.join(GATE, 'up-a')));
    expect(ledgerText(dir)).toContain('"forged"');
    // Allocated, measured and logged while the forged keep at 0 stands (its guard has not cut it yet).
    const run = engine('run-experiment', ['--candidate', other.id, '--json'], dir, ENV);
    expect(run.json, run.stderr).toMatchObject({ status: 'ok', primary: 7 });
    const rec = JSON.parse(fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/runs', (run.json as { run_id: string }).run_id, 'result.json'), 'utf8')) as { candidate: { best_run: string } };
    expect(rec.candidate.best_run).toBe('r0001');
    const logged = engine('log-experiment', ['--candidate', other.id, '-d', 'seven', '--json'], dir, ENV);
    expect(logged.json, logged.stderr).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(GATE, 'go-a'), '');
    expect((await a).code).toBe(0);
    expect(ledgerText(dir)).not.toContain('"forged"');
  });

  it('a forged config line and a forged termination standing beside a live benchmark: another candidate still runs and is kept', async () => {
    const dir = repo();
    const forger = open(dir, { 'src/v': '5\n', 'src/forge-more': 'x\n', 'src/name': 'a\n' });
    const other = open(dir, { 'src/v': '7\n' });
    const a = finished(engineAsync('run-experiment', ['--candidate', forger.id, '--json'], dir, { ...ENV, GATE_DIR: GATE }));
    await waitFor(() => fs.existsSync(path.join(GATE, 'up-a')));
    expect(ledgerText(dir)).toContain('"segment":2');
    const run = engine('run-experiment', ['--candidate', other.id, '--json'], dir, ENV);
    expect(run.json, run.stderr).toMatchObject({ status: 'ok', primary: 7 });
    const logged = engine('log-experiment', ['--candidate', other.id, '-d', 'seven', '--json'], dir, ENV);
    expect(logged.json, logged.stderr).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(GATE, 'go-a'), '');
    expect((await a).code).toBe(0);
    expect(ledgerText(dir)).not.toContain('"forged"');
  });

  it("forged runs appended while another candidate's log decides do not end the loop (max runs)", async () => {
    const dir = repo(['--max-runs', '3']);
    const forger = open(dir, { 'src/v': '5\n', 'src/forge-late': 'x\n', 'src/name': 'a\n' });
    const other = open(dir, { 'src/v': '7\n' });
    const run = engine('run-experiment', ['--candidate', other.id, '--json'], dir, ENV);
    expect(run.json, run.stderr).toMatchObject({ status: 'ok', primary: 7 });
    const a = finished(engineAsync('run-experiment', ['--candidate', forger.id, '--json'], dir, { ...ENV, GATE_DIR: GATE }));
    await waitFor(() => fs.existsSync(path.join(GATE, 'up-a')));
    // The log decides on the ledger as it is, then is held off the CPU; two forged runs land meanwhile (2 real + 2 forged >= 3).
    const logChild = engineAsync('log-experiment', ['--candidate', other.id, '-d', 'seven', '--json'], dir, { ...ENV, AUTOLOOP_STOP_AT: 'candidate:decided' });
    const log = finished(logChild);
    await waitFor(() => stopped(logChild.pid!));
    fs.writeFileSync(path.join(GATE, 'go-a'), '');
    await waitFor(() => fs.existsSync(path.join(GATE, 'forged')));
    expect(ledgerText(dir)).toContain('"forged"');
    logChild.kill('SIGCONT');
    const logged = await log;
    expect(logged.code, logged.err).toBe(0);
    expect(JSON.parse(logged.out)).toMatchObject({ verdict: 'keep' });
    expect((await a).code).toBe(0);
    expect(ledgerText(dir)).not.toContain('"forged"');
    // No termination was recorded from the forged runs: 2 real runs of 3.
    expect(lines(dir).some((l) => l.includes('"event":"terminated"'))).toBe(false);
  });

  it('a guard killed before its cut: the next candidate call cuts the forged lines that name no run, and those naming the forging run', async () => {
    const dir = repo();
    const forger = open(dir, { 'src/v': '5\n', 'src/forge-more': 'x\n', 'src/name': 'a\n' });
    const other = open(dir, { 'src/v': '7\n' });
    const before = lines(dir);
    const child = engineAsync('run-experiment', ['--candidate', forger.id, '--json'], dir, { ...ENV, GATE_DIR: GATE });
    const a = finished(child);
    await waitFor(() => fs.existsSync(path.join(GATE, 'up-a')));
    const forged = lines(dir).filter((l) => !before.includes(l) && (l.includes('"forged"') || l.includes('"segment":2')));
    expect(forged).toHaveLength(3);
    child.kill('SIGKILL');
    expect((await a).code).toBe(null);
    const run = engine('run-experiment', ['--candidate', other.id, '--json'], dir, ENV);
    expect(run.json, run.stderr).toMatchObject({ status: 'ok', primary: 7 });
    const after = lines(dir);
    for (const l of forged) expect(after).not.toContain(l);
    for (const l of before) expect(after).toContain(l);
    expect(engine('log-experiment', ['--candidate', other.id, '-d', 'seven', '--json'], dir, ENV).json).toMatchObject({ verdict: 'keep' });
  });

  it('a guard killed before its cut, then a new segment: init-experiment cuts first, and its config line is never cut', async () => {
    const dir = repo();
    const forger = open(dir, { 'src/v': '5\n', 'src/forge-more': 'x\n', 'src/name': 'a\n' });
    const before = lines(dir);
    const child = engineAsync('run-experiment', ['--candidate', forger.id, '--json'], dir, { ...ENV, GATE_DIR: GATE });
    const a = finished(child);
    await waitFor(() => fs.existsSync(path.join(GATE, 'up-a')));
    const forged = lines(dir).filter((l) => !before.includes(l) && (l.includes('"forged"') || l.includes('"segment":2')));
    expect(forged).toHaveLength(3);
    child.kill('SIGKILL');
    expect((await a).code).toBe(null);
    const init = engine('init-experiment', INIT.map((a, i) => (INIT[i - 1] === '--repeats' ? '2' : a)), dir, { ...ENV, GATE_DIR: GATE });
    expect(init.code, init.stderr).toBe(0);
    const opened = lines(dir).filter((l) => l.startsWith('{"type":"config"') && !before.includes(l));
    expect(opened).toHaveLength(1);
    for (const l of forged) expect(lines(dir)).not.toContain(l);
    // The next ledger-locked call (closing the killed candidate) finds nothing left to cut.
    const closed = engine('candidate', ['close', forger.id], dir, ENV);
    expect(closed.code, closed.stderr).toBe(0);
    expect(lines(dir)).toContain(opened[0]);
    for (const l of before) expect(lines(dir)).toContain(l);
  });
});
