// control clear with parallel candidates open: their worktrees go (from
// `git worktree list` and from disk), their unlogged changes are moved to
// rescued/ first, and the user's main tree is left as it was. Real engine,
// real git repositories, real processes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engine, fromTemplate, git, makeRepo, ROOT } from './helpers/engine.ts';

const BENCH = `console.log('METRIC score=' + Number.parseFloat(require('node:fs').readFileSync('src/value.txt', 'utf8')));\n`;
const TIMING = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`) };
const templates: string[] = [];
afterAll(() => {
  for (const d of templates.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function repo(): string {
  return fromTemplate('candidate-clear', () => {
    const t = makeRepo({ 'bench.cjs': BENCH, 'src/value.txt': '100\n', 'README.md': 'fixture\n' });
    templates.push(t);
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '1', '--parallel', '2'], t, TIMING);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], t, TIMING).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], t, TIMING).code).toBe(0);
    return t;
  });
}

const treeOf = (dir: string, id: string): string => path.join(dir, '.autoloop/experiments/exp/candidates', id, 'tree');
const worktrees = (dir: string): string[] => git(dir, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).map((l) => l.slice(9)).filter((p) => p !== dir);

describe('control clear with candidates open', { timeout: 900_000 }, () => {
  it('removes every candidate worktree, keeps their changes in rescued/, and leaves the main tree alone', () => {
    const dir = repo();
    expect(engine('candidate', ['start'], dir, TIMING).code).toBe(0);
    expect(engine('candidate', ['start'], dir, TIMING).code).toBe(0);
    fs.writeFileSync(path.join(treeOf(dir, 'c1'), 'src/value.txt'), '90\n');
    fs.writeFileSync(path.join(treeOf(dir, 'c1'), 'src/new.txt'), 'idea\n');
    fs.writeFileSync(path.join(treeOf(dir, 'c2'), 'src/value.txt'), '80\n');
    const run = engine('run-experiment', ['--candidate', 'c2', '--json'], dir, TIMING);
    expect(run.code, run.stderr).toBe(0);
    // The user's own edits in the main tree.
    fs.writeFileSync(path.join(dir, 'src/value.txt'), 'mine\n');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine too\n');
    expect(worktrees(dir)).toHaveLength(2);

    const clear = engine('control', ['clear', '--json'], dir, TIMING);
    expect(clear.code, clear.stderr).toBe(0);
    expect(String(clear.json?.message)).toMatch(/closed candidate\(s\) c1, c2 of exp/);
    expect(worktrees(dir)).toEqual([]);
    expect(fs.existsSync(treeOf(dir, 'c1'))).toBe(false);
    expect(fs.existsSync(treeOf(dir, 'c2'))).toBe(false);
    expect(git(dir, 'branch', '--format=%(refname:short)').split('\n').filter(Boolean).sort()).toEqual(['autoloop/exp', 'main']);
    // Nothing of a candidate is lost (rescueFile's copy names).
    const rescued = path.join(dir, '.autoloop/experiments/exp/rescued');
    const [folder] = fs.readdirSync(rescued).filter((f) => f.startsWith('clear-'));
    expect(fs.readFileSync(path.join(rescued, String(folder), 'c1/src/value.txt.autoloop-copy'), 'utf8')).toBe('90\n');
    expect(fs.readFileSync(path.join(rescued, String(folder), 'c1/src/new.txt.autoloop-copy'), 'utf8')).toBe('idea\n');
    expect(fs.readFileSync(path.join(rescued, String(folder), 'c2/src/value.txt.autoloop-copy'), 'utf8')).toBe('80\n');
    // The main tree as the user left it.
    expect(fs.readFileSync(path.join(dir, 'src/value.txt'), 'utf8')).toBe('mine\n');
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine too\n');
    // The measured run of c2 can no longer be logged; the candidates are closed.
    const list = engine('candidate', ['list', '--json'], dir, TIMING).json as { candidates: unknown[] };
    expect(list.candidates).toEqual([]);
  });
});
