// A keep whose `committed` event the ledger lacks while its commit is on the
// experiment's branch. Two ways to get there: the engine killed between the
// commit and that line, then a new segment opened (its config line ended the
// pending keep for good: no later call wrote the event); or the line torn in
// the middle of the ledger. The state then took the keep before it as the
// best's commit: every call refused the branch as moved by hand, and `repair`
// put the branch back there, the real keep saved off the branch as "moved"
// while the state's best stayed its value. Real engine, real repositories.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, fromTemplate, git, makeRepo } from './helpers/engine.ts';

const BENCH = 'echo METRIC score=$(cat src/v)\n';
const INIT = ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'];

/**
 * The baseline (50) kept: built once for the file and copied per test
 * (fromTemplate; right after the baseline nothing names its own path).
 */
function start(): string {
  return fromTemplate('lost-commit:baseline', () => {
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n' });
    const init = engine('init-experiment', INIT, repo);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    return repo;
  });
}
const run = (repo: string, v: string, d: string, env: Record<string, string> = {}) => {
  fs.writeFileSync(path.join(repo, 'src/v'), `${v}\n`);
  return engine('run-experiment', ['--description', d, '--json'], repo, env);
};
/** The ledger's lines that parse (a torn one is skipped, as the engine skips it). */
const ledger = (repo: string): Array<Record<string, unknown>> =>
  fs
    .readFileSync(path.join(repo, '.autoloop/experiments/exp/ledger.jsonl'), 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
const committed = (repo: string, id: string) => ledger(repo).filter((l) => l.event === 'committed' && l.run_id === id);
const repair = (repo: string) => {
  const r = engine('control', ['repair'], repo);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
};

describe('a keep whose committed event the ledger lacks', () => {
  it('killed between its commit and the ledger line, then a new segment: the event is written before the config line, once', () => {
    const repo = start();
    expect(run(repo, '40', 'A', { AUTOLOOP_CRASH_AT: 'after-commit' }).code).not.toBe(0);
    const keep = git(repo, 'rev-parse', 'autoloop/exp');
    expect(git(repo, 'log', '-1', '--format=%B', keep)).toMatch(/Autoloop-Run: r0002/);
    expect(committed(repo, 'r0002')).toEqual([]);
    const init = engine('init-experiment', INIT, repo);
    expect(init.code, init.stderr).toBe(0);
    expect(committed(repo, 'r0002').map((l) => (l.data as { commit: string }).commit)).toEqual([keep]);
    // Before the new segment's config line: the keep belongs to the segment it was measured in.
    const lines = ledger(repo);
    expect(lines.findIndex((l) => l.event === 'committed' && l.run_id === 'r0002')).toBeLessThan(lines.findIndex((l) => l.type === 'config' && l.segment === 2));
    expect(repair(repo)).not.toMatch(/wrote back/);
    expect(committed(repo, 'r0002')).toHaveLength(1);
    const fin = engine('finalize', ['--json'], repo);
    expect(fin.code, fin.stderr).toBe(0);
    expect(git(repo, 'show', 'autoloop/exp-final:src/v')).toBe('40');
  });

  it('killed between its commit and the ledger line, then repair: written once (reconcile), never a second time', () => {
    const repo = start();
    expect(run(repo, '40', 'A', { AUTOLOOP_CRASH_AT: 'after-commit' }).code).not.toBe(0);
    const keep = git(repo, 'rev-parse', 'autoloop/exp');
    repair(repo);
    expect(repair(repo)).not.toMatch(/wrote back/);
    expect(committed(repo, 'r0002').map((l) => (l.data as { commit: string }).commit)).toEqual([keep]);
    expect(git(repo, 'rev-parse', 'autoloop/exp')).toBe(keep);
  });

  it('its line torn in the middle of the ledger: repair writes it back once, and leaves the branch and the tree at the keep', () => {
    const repo = start();
    expect(run(repo, '40', 'A').json).toMatchObject({ verdict: 'keep' });
    const keep = git(repo, 'rev-parse', 'autoloop/exp');
    expect(run(repo, '45', 'B').json).toMatchObject({ verdict: 'discard' });
    const dir = path.join(repo, '.autoloop', 'experiments', 'exp');
    const file = path.join(dir, 'ledger.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"event":"committed"') && l.includes('"r0002"'));
    lines[i] = (lines[i] as string).slice(0, 50);
    fs.writeFileSync(file, lines.join('\n'));
    for (const f of fs.readdirSync(dir)) if (/^(state|runs\.|commits\.|primaries)/.test(f)) fs.rmSync(path.join(dir, f), { force: true });
    // The state's best commit is the baseline's now: the keep's own commit reads as a move made by hand.
    const refused = run(repo, '44', 'C');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/branch autoloop\/exp is at .* but the engine last kept/);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(repair(repo)).toMatch(/wrote back the committed event\(s\) the ledger lost: r0002/);
    expect(repair(repo)).not.toMatch(/wrote back|put the best back/);
    expect(committed(repo, 'r0002').map((l) => (l.data as { commit: string; late?: boolean })).map((d) => [d.commit, d.late])).toEqual([[keep, true]]);
    expect(git(repo, 'rev-parse', 'autoloop/exp')).toBe(keep);
    expect(git(repo, 'for-each-ref', 'refs/autoloop/moved')).toBe('');
    expect(fs.readFileSync(path.join(repo, 'src/v'), 'utf8')).toBe('40\n');
    // The loop goes on from the keep: 35 is kept on top of it, and finalize replays both.
    expect(run(repo, '35', 'D').json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'rev-parse', 'autoloop/exp^')).toBe(keep);
    const fin = engine('finalize', ['--json'], repo);
    expect(fin.code, fin.stderr).toBe(0);
    expect((fin.json?.commits as unknown[]).length).toBe(2);
  });

  it("an older keep's event written back late does not move the best's commit: the loop goes on from the newer keep", () => {
    const repo = start();
    expect(run(repo, '40', 'A').json).toMatchObject({ verdict: 'keep' });
    expect(run(repo, '30', 'B').json).toMatchObject({ verdict: 'keep' });
    const best = git(repo, 'rev-parse', 'autoloop/exp');
    const dir = path.join(repo, '.autoloop', 'experiments', 'exp');
    const file = path.join(dir, 'ledger.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"event":"committed"') && l.includes('"r0002"'));
    lines[i] = (lines[i] as string).slice(0, 50);
    fs.writeFileSync(file, lines.join('\n'));
    for (const f of fs.readdirSync(dir)) if (/^(state|runs\.|commits\.|primaries)/.test(f)) fs.rmSync(path.join(dir, f), { force: true });
    expect(repair(repo)).toMatch(/wrote back the committed event\(s\) the ledger lost: r0002/);
    expect(git(repo, 'rev-parse', 'autoloop/exp')).toBe(best);
    expect(run(repo, '20', 'C').json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'rev-parse', 'autoloop/exp^')).toBe(best);
  });

  it("the baseline's line torn (a keep of no change, with no commit of its own): repair writes back the segment's base, and finalize builds", () => {
    const repo = start();
    const base = git(repo, 'rev-parse', 'autoloop/exp');
    expect(run(repo, '40', 'A').json).toMatchObject({ verdict: 'keep' });
    const dir = path.join(repo, '.autoloop', 'experiments', 'exp');
    const file = path.join(dir, 'ledger.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"event":"committed"') && l.includes('"r0001"'));
    lines[i] = (lines[i] as string).slice(0, 50);
    fs.writeFileSync(file, lines.join('\n'));
    for (const f of fs.readdirSync(dir)) if (/^(state|runs\.|commits\.|primaries)/.test(f)) fs.rmSync(path.join(dir, f), { force: true });
    expect(repair(repo)).toMatch(/wrote back the committed event\(s\) the ledger lost: r0001/);
    expect(committed(repo, 'r0001').map((l) => (l.data as { commit: string }).commit)).toEqual([base]);
    expect(repair(repo)).not.toMatch(/wrote back/);
    const fin = engine('finalize', ['--json'], repo);
    expect(fin.code, fin.stderr).toBe(0);
    expect(git(repo, 'show', 'autoloop/exp-final:src/v')).toBe('40');
  });
});
