// Engine calls beside a candidate's command (parallel mode). A candidate's
// guard checks, after each command of its code under test, the engine's state
// and the lines appended to the shared ledger meanwhile: what other engine
// calls legitimately wrote then must stand, and the run with it; what another
// candidate's guard took out as forged must stay out. Real engine processes,
// real worktrees; each benchmark waits at a gate the test opens, so every
// overlap is made on purpose, never by timing.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { engine, engineAsync, fromTemplate, git, ledger, makeRepo, ROOT } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';
import { recordRelaunch } from '../scripts/lib/supervisor/engine.ts';

const FORGED = JSON.stringify({ type: 'result', ts: new Date().toISOString(), segment: 1, run_id: 'r0099', status: 'ok', verdict: 'keep', primary: 0, samples: [0], metrics: { score: 0 }, description: 'forged', reason: 'x', duration_s: 0 });

// score = v - w - x - y (lower is better): candidates improve it through different files.
// src/gate names a folder: the benchmark says it started, then waits there for `go`.
const BENCH = `root=$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")
if [ -f src/forge ]; then echo '${FORGED}' >> "$root/.autoloop/experiments/exp/ledger.jsonl"; fi
if [ -f src/gate ]; then g=$(cat src/gate); touch "$g/started"; while [ ! -f "$g/go" ]; do sleep 0.05; done; fi
echo "METRIC score=$(( $(cat src/v) - $(cat src/w) - $(cat src/x) - $(cat src/y) ))"
`;

// Candidates time their samples in parallel: with the default gate, one's sample waits for the other's.
const ENV = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`), AUTOLOOP_CONTAINMENT: 'pidns' };
const made: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const templates: string[] = [];
afterAll(() => {
  for (const d of templates.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  fs.rmSync(ENV.AUTOLOOP_TIMING_DIR, { recursive: true, force: true });
});

function repo(): string {
  const dir = fromTemplate('candidate-beside', () => {
    const t = makeRepo({ 'bench.sh': BENCH, 'src/v': '10\n', 'src/w': '0\n', 'src/x': '0\n', 'src/y': '0\n' });
    templates.push(t);
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1', '--parallel', '3', '--parallel-timing', 'parallel', '--json'], t, ENV);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], t, ENV).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], t, ENV).code).toBe(0);
    return t;
  });
  made.push(dir);
  return dir;
}

function open(dir: string): { id: string; path: string } {
  const r = engine('candidate', ['start', '--json'], dir, ENV);
  expect(r.code, r.stderr).toBe(0);
  const j = r.json as { candidate: string; path: string };
  return { id: j.candidate, path: j.path };
}

const write = (tree: string, rel: string, text: string) => fs.writeFileSync(path.join(tree, rel), text);
const runJson = (dir: string, id: string) => engine('run-experiment', ['--candidate', id, '--json'], dir, ENV).json as Record<string, unknown>;
const logJson = (dir: string, id: string, d: string) => engine('log-experiment', ['--candidate', id, '-d', d, '--json'], dir, ENV).json as Record<string, unknown>;

/** A gate for a candidate's benchmark: `started` once it waits, `open()` lets it finish. */
function gate(tree: string): { started: Promise<void>; open: () => void } {
  const g = tmpDir('autoloop-gate-');
  write(tree, 'src/gate', g);
  const started = (async () => {
    while (!fs.existsSync(path.join(g, 'started'))) await new Promise((r) => setTimeout(r, 20));
  })();
  return { started, open: () => fs.writeFileSync(path.join(g, 'go'), '') };
}

/** A candidate's run in the background: its JSON answer when it ends. */
function runAsync(dir: string, id: string): Promise<Record<string, unknown>> {
  const child = engineAsync('run-experiment', ['--candidate', id, '--json'], dir, ENV);
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, unknown>) : reject(new Error(`exit ${code}: ${err}`)))));
}

const events = (dir: string, name: string) => ledger(dir).filter((l) => l.type === 'event' && l.event === name);

describe("engine calls beside a candidate's command", { timeout: 900_000 }, () => {
  it("control repair and the supervisor's relaunch write their lines while a candidate measures: the lines stay, the run stands", async () => {
    const dir = repo();
    const a = open(dir);
    write(a.path, 'src/v', '9\n');
    const g = gate(a.path);
    const running = runAsync(dir, a.id);
    await g.started;
    // A survivor marker to clear (repair's `cleared` line names no run), and a relaunch (nor does it).
    fs.writeFileSync(path.join(dir, '.autoloop/experiments/exp/unclean.json'), JSON.stringify({ pids: [] }));
    const repair = engine('control', ['repair'], dir, ENV);
    expect(repair.code, repair.stderr).toBe(0);
    await recordRelaunch(dir, 'exp', { cause: 'crash', wait_s: 0 });
    g.open();
    const r = await running;
    expect(r).toMatchObject({ status: 'ok', primary: 9 });
    expect(events(dir, 'cleared')).toHaveLength(1);
    expect(events(dir, 'relaunch')).toHaveLength(1);
    expect(events(dir, 'tamper')).toHaveLength(0);
    expect(logJson(dir, a.id, 'nine')).toMatchObject({ verdict: 'keep' });
  });

  it('another candidate rebased twice while one measures (before its run, then at its log): the run stands', async () => {
    const dir = repo();
    const a = open(dir);
    write(a.path, 'src/v', '10\n');
    const g = gate(a.path);
    const running = runAsync(dir, a.id);
    await g.started;
    const b = open(dir);
    const c = open(dir);
    write(c.path, 'src/x', '1\n');
    expect(runJson(dir, c.id)).toMatchObject({ status: 'ok', primary: 9 });
    expect(logJson(dir, c.id, 'x')).toMatchObject({ verdict: 'keep' });
    // b is rebased onto c's keep before it is measured...
    write(b.path, 'src/w', '1\n');
    expect(runJson(dir, b.id)).toMatchObject({ status: 'ok', primary: 8 });
    const d = open(dir);
    write(d.path, 'src/y', '1\n');
    expect(runJson(dir, d.id)).toMatchObject({ status: 'ok', primary: 8 });
    expect(logJson(dir, d.id, 'y')).toMatchObject({ verdict: 'keep' });
    // ...and again at its log, onto d's: its base is no longer the one the first rebase named.
    expect(logJson(dir, b.id, 'w')).toMatchObject({ kind: 'rebased' });
    g.open();
    expect(await running).toMatchObject({ status: 'ok', primary: 10 });
    expect(events(dir, 'rebased')).toHaveLength(2);
    expect(events(dir, 'tamper')).toHaveLength(0);
  });

  it("a line forged by one candidate's benchmark, sealed by another's command before it was taken out, is never put back", async () => {
    const dir = repo();
    const forger = open(dir);
    const a = open(dir);
    write(forger.path, 'src/forge', '\n');
    write(forger.path, 'src/v', '9\n');
    const gf = gate(forger.path);
    const forging = runAsync(dir, forger.id);
    await gf.started;
    // The forged line is in the ledger now: a's command seals it with the rest.
    write(a.path, 'src/v', '8\n');
    const ga = gate(a.path);
    const running = runAsync(dir, a.id);
    await ga.started;
    gf.open();
    expect(await forging).toMatchObject({ status: 'invalid' });
    expect(fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/ledger.jsonl'), 'utf8')).not.toContain('forged');
    ga.open();
    await running;
    expect(fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/ledger.jsonl'), 'utf8')).not.toContain('forged');
    // The best is the baseline's, not the forged 0.
    const status = engine('status', ['--json'], dir, ENV);
    expect((status.json as { best: unknown }).best).toBe(10);
  });

  it('init-experiment refuses while a candidate measures (its guard would undo the new segment), and opens it once the run ends', async () => {
    const dir = repo();
    const a = open(dir);
    write(a.path, 'src/v', '9\n');
    const g = gate(a.path);
    const running = runAsync(dir, a.id);
    await g.started;
    const args = ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '2', '--parallel', '3', '--json'];
    const refused = engine('init-experiment', args, dir, ENV);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/init-experiment must wait: candidate exp c\d+ \(run-experiment, pid \d+\) is measuring/);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    g.open();
    expect(await running).toMatchObject({ status: 'ok', primary: 9 });
    const init = engine('init-experiment', args, dir, ENV);
    expect(init.code, init.stderr).toBe(0);
    expect(ledger(dir).filter((l) => l.type === 'config')).toHaveLength(2);
    expect(fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/config.yaml'), 'utf8')).toMatch(/repeats: 2/);
    // The judges' manifest names copies that exist.
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/judges/manifest.json'), 'utf8')) as { dir: string };
    expect(fs.existsSync(path.join(dir, '.autoloop/experiments/exp/judges', manifest.dir))).toBe(true);
    expect(git(dir, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('autoloop/exp');
  });
});
