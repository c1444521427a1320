// finalize on a ledger that lost a keep's line in the middle (a corrupt line,
// skipped on reading): the next keep alone, cherry-picked, made a branch
// without the lost keep's change that looked complete (its tree not the
// best's). It is refused in one line naming the keep, and nothing is created.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';

// score = v + w: two keeps, each through its own file, so the second applies without the first.
const BENCH = "const f = require('fs'); const n = (p) => Number(f.readFileSync(p, 'utf8')); console.log('METRIC score=' + (n('src/v.txt') + n('src/w.txt')));\n";

function step(repo: string, d: string, file?: string, value?: string): void {
  if (file) fs.writeFileSync(path.join(repo, file), value as string);
  const r = engine('run-experiment', ['--description', d, '--json'], repo);
  expect(r.code, r.stderr).toBe(0);
}
const run = (script: string, args: string[], repo: string) => engine(script, args, repo);

describe('finalize with a keep lost from the ledger', () => {
  it('refuses a branch that would lack the lost keep\'s change, naming it; an intact ledger builds it', () => {
    const repo = makeRepo({ 'bench.cjs': BENCH, 'src/v.txt': '100', 'src/w.txt': '10' });
    const init = engine('init-experiment', ['--name', 'fin', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    step(repo, 'baseline');
    step(repo, 'lower v', 'src/v.txt', '90');
    step(repo, 'lower w', 'src/w.txt', '0');
    const keeps = git(repo, 'rev-list', '--reverse', 'main..autoloop/fin').split('\n');
    expect(keeps).toHaveLength(2);
    const dir = path.join(repo, '.autoloop', 'experiments', 'fin');
    const ledger = path.join(dir, 'ledger.jsonl');
    const intact = fs.readFileSync(ledger, 'utf8');
    const ok = run('finalize', ['--branch', 'ok/intact'], repo);
    expect(ok.code, ok.stderr).toBe(0);
    expect(git(repo, 'rev-parse', 'ok/intact^{tree}')).toBe(git(repo, 'rev-parse', 'autoloop/fin^{tree}'));

    // r0002's result line cut short in the middle of the ledger; every cache gone, so the ledger is read again.
    const lines = intact.split('\n');
    const i = lines.findIndex((l) => l.includes('"type":"result"') && l.includes('"r0002"'));
    lines[i] = (lines[i] as string).slice(0, 60);
    fs.writeFileSync(ledger, lines.join('\n'));
    for (const f of fs.readdirSync(dir)) if (/^(state|runs\.|commits\.|primaries)/.test(f)) fs.rmSync(path.join(dir, f), { force: true });
    const before = git(repo, 'for-each-ref', '--format=%(refname) %(objectname)');
    for (const args of [[], ['--squash', '--branch', 'try/squash']]) {
      const r = run('finalize', args, repo);
      expect(r.code, r.stdout).toBe(2);
      const err = r.stderr.trim().split('\n');
      expect(err).toHaveLength(1);
      expect(err[0]).toMatch(new RegExp(`^finalize: the kept changes in the ledger do not add up to the best \\(${keeps[1]!.slice(0, 12)}\\): a commit of the experiment's branch is in no keep it holds: r0002 \\(${keeps[0]!.slice(0, 12)}\\)`));
    }
    expect(git(repo, 'for-each-ref', '--format=%(refname) %(objectname)')).toBe(before);
  });

  it('finds a keep whose committed event was lost (repair writes it back, lost-commit.test.ts; finalize also finds it by its commit\'s trailer), and builds the branch', () => {
    const repo = makeRepo({ 'bench.cjs': BENCH, 'src/v.txt': '100', 'src/w.txt': '10' });
    expect(engine('init-experiment', ['--name', 'fin', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**'], repo).code).toBe(0);
    step(repo, 'baseline');
    step(repo, 'lower v', 'src/v.txt', '90');
    step(repo, 'lower w', 'src/w.txt', '0');
    const dir = path.join(repo, '.autoloop', 'experiments', 'fin');
    const ledger = path.join(dir, 'ledger.jsonl');
    const lines = fs.readFileSync(ledger, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"event":"committed"') && l.includes('"r0002"'));
    lines[i] = (lines[i] as string).slice(0, 50);
    fs.writeFileSync(ledger, lines.join('\n'));
    for (const f of fs.readdirSync(dir)) if (/^(state|runs\.|commits\.|primaries)/.test(f)) fs.rmSync(path.join(dir, f), { force: true });
    expect(engine('control', ['repair'], repo).code).toBe(0);
    const r = run('finalize', ['--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect((r.json?.commits as unknown[]).length).toBe(2);
    expect(git(repo, 'rev-parse', 'autoloop/fin-final^{tree}')).toBe(git(repo, 'rev-parse', 'autoloop/fin^{tree}'));
  });
});
