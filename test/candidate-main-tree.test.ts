// A candidate's benchmark runs in the candidate's worktree, but its code can
// reach the main tree by a relative path. What it writes there (in scope: the
// files the next keep lands on, and the user's own edits) voids its run and is
// put back; what it wrote is kept in rescued/. Real engine, real git
// repositories, real processes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engine, engineAsync, fromTemplate, ledger, makeRepo, ROOT, waitFor } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const BENCH = `require('./src/prog.js');
console.log('METRIC score=' + Number.parseFloat(require('node:fs').readFileSync('src/value.txt', 'utf8')));
`;
// The code under test: from a candidate's worktree (.autoloop/experiments/exp/candidates/cN/tree), writes the main tree.
const SABOTAGE = `const fs = require('fs'), path = require('path');
if (process.cwd().includes('/candidates/')) {
  const main = path.resolve(process.cwd(), '../../../../../..');
  fs.writeFileSync(path.join(main, 'src/value.txt'), '1\\n');
  fs.writeFileSync(path.join(main, 'src/other.txt'), 'overwritten\\n');
  fs.writeFileSync(path.join(main, 'src/planted.js'), 'planted\\n');
}
`;
// c2's code: says it is up, then waits for the go (GATE_DIR, recorded in the segment's environment at init).
const WAIT = `const fs = require('fs');
if (process.cwd().includes('/candidates/c2/')) {
  fs.writeFileSync(process.env.GATE_DIR + '/up', '');
  while (!fs.existsSync(process.env.GATE_DIR + '/go')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
}
`;
const GATE = tmpDir('autoloop-gate-');
const TIMING = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`) };
const templates: string[] = [];
afterAll(() => {
  for (const d of [...templates.splice(0), GATE]) fs.rmSync(d, { recursive: true, force: true });
});

function repo(): string {
  return fromTemplate('candidate-main-tree', () => {
    const t = makeRepo({ 'bench.cjs': BENCH, 'src/prog.js': '\n', 'src/value.txt': '100\n', 'src/other.txt': 'other\n' });
    templates.push(t);
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '1', '--parallel', '2', '--parallel-timing', 'parallel'], t, { ...TIMING, GATE_DIR: GATE });
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], t, TIMING).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], t, TIMING).code).toBe(0);
    return t;
  });
}

const treeOf = (dir: string, id: string): string => path.join(dir, '.autoloop/experiments/exp/candidates', id, 'tree');
const read = (dir: string, rel: string): string | null => (fs.existsSync(path.join(dir, rel)) ? fs.readFileSync(path.join(dir, rel), 'utf8') : null);

describe("a candidate's command that writes the main tree", { timeout: 900_000 }, () => {
  it('voids its run, and the main tree (the user edit in it too) is put back, what was written kept in rescued/', () => {
    const dir = repo();
    // The user's own uncommitted edit of an in-scope file in the main tree.
    fs.writeFileSync(path.join(dir, 'src/other.txt'), 'mine\n');
    expect(engine('candidate', ['start'], dir, TIMING).code).toBe(0);
    fs.writeFileSync(path.join(treeOf(dir, 'c1'), 'src/prog.js'), SABOTAGE);
    const run = engine('run-experiment', ['--candidate', 'c1', '--json'], dir, TIMING);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({ status: 'invalid' });
    expect(String(run.json?.reason)).toMatch(/changed files of the main working tree: src\/other\.txt, src\/planted\.js, src\/value\.txt/);
    expect(read(dir, 'src/value.txt')).toBe('100\n');
    expect(read(dir, 'src/other.txt')).toBe('mine\n');
    expect(read(dir, 'src/planted.js')).toBe(null);
    const rescued = path.join('.autoloop/experiments/exp/rescued', `${String(run.json?.run_id)}-main-tree`);
    expect(read(dir, path.join(rescued, 'src/value.txt.autoloop-copy'))).toBe('1\n');
    expect(read(dir, path.join(rescued, 'src/other.txt.autoloop-copy'))).toBe('overwritten\n');
    expect(ledger(dir).some((l) => l.type === 'event' && l.event === 'outside_change' && (l.data as { main_tree?: boolean }).main_tree === true)).toBe(true);
    const log = engine('log-experiment', ['--candidate', 'c1', '-d', 'sabotage', '--json'], dir, TIMING);
    expect(log.json).toMatchObject({ verdict: 'invalid' });
  });

  it('a candidate that leaves the main tree alone is measured as usual while another candidate is kept', async () => {
    const dir = repo();
    fs.writeFileSync(path.join(dir, 'src/other.txt'), 'mine\n');
    expect(engine('candidate', ['start'], dir, TIMING).code).toBe(0);
    expect(engine('candidate', ['start'], dir, TIMING).code).toBe(0);
    fs.writeFileSync(path.join(treeOf(dir, 'c1'), 'src/value.txt'), '90\n');
    fs.writeFileSync(path.join(treeOf(dir, 'c2'), 'src/prog.js'), WAIT);
    const r1 = engine('run-experiment', ['--candidate', 'c1', '--json'], dir, TIMING);
    expect(r1.json).toMatchObject({ status: 'ok' });
    // c2's benchmark runs while c1's keep moves the branch and brings the main tree's src/value.txt to it.
    const c2 = engineAsync('run-experiment', ['--candidate', 'c2', '--json'], dir, TIMING);
    let out = '';
    c2.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const done = new Promise<number | null>((resolve) => c2.on('close', resolve));
    await waitFor(() => fs.existsSync(path.join(GATE, 'up')));
    expect(engine('log-experiment', ['--candidate', 'c1', '-d', 'lower', '--json'], dir, TIMING).json).toMatchObject({ verdict: 'keep' });
    expect(read(dir, 'src/value.txt')).toBe('90\n');
    fs.writeFileSync(path.join(GATE, 'go'), '');
    expect(await done).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ status: 'ok' });
    expect(read(dir, 'src/other.txt')).toBe('mine\n');
    expect(read(dir, 'src/value.txt')).toBe('90\n');
  });
});
