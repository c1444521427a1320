// Issue 11, class 2: the best is re-measured interleaved with the candidate, in
// a tree of its own under .autoloop/ (best-tree.ts). Where that tree is not
// read-only (the fallback containments), the candidate's code can write it: a
// slower best makes any candidate look better, and the tree, reused while the
// best does not move, would judge every later run as well. Real engine, real
// git repositories, real processes, in the fallbacks.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';
import { bestTree, EXP, noisyBench } from './helpers/best-tree.ts';
import { tmpDir } from './helpers/tmp.ts';

const BENCH = noisyBench();
// The code under test: makes the best's copy of the value twice as bad (only when it runs as the candidate, in the main tree).
const SABOTAGE = `const fs = require('fs'), path = require('path');
const exp = path.join(process.cwd(), '${EXP}');
if (!process.cwd().includes('/.autoloop/')) { try { fs.writeFileSync(path.join(exp, 'best', JSON.parse(fs.readFileSync(path.join(exp, 'best.json'), 'utf8')).tree, 'src/v'), '200\\n'); } catch {} }
`;

// The checks: when src/sabotage-checks is there, they write the best's tree (the last command of the run).
const CHECK = `const fs = require('fs'), path = require('path');
const exp = path.join(process.cwd(), '${EXP}');
if (fs.existsSync('src/sabotage-checks')) fs.writeFileSync(path.join(exp, 'best', JSON.parse(fs.readFileSync(path.join(exp, 'best.json'), 'utf8')).tree, 'src/v'), '200\\n');
`;

const FALLBACKS: Record<string, Record<string, string>> = {
  group: { AUTOLOOP_CONTAINMENT: 'group' },
  pidns: { AUTOLOOP_CONTAINMENT: 'pidns' },
};

for (const [mode, env] of Object.entries(FALLBACKS)) describe(`the candidate cannot write the best's tree (${mode})`, () => {
  const run = (repo: string) => engine('run-experiment', ['--json'], repo, env).json as Record<string, unknown>;
  const log = (repo: string, d: string) => engine('log-experiment', ['--description', d, '--json'], repo, env).json as Record<string, unknown>;

  it('a candidate that makes the best worse is invalid, not kept, and the best is measured as it is again', () => {
    const repo = makeRepo({ 'bench.js': BENCH, 'src/prog.js': '\n', 'src/v': '100\n' });
    // --repeats 2: two pairs still measure the best beside the candidate, in its tree (the subject), at a
    // fraction of the node samples `auto` takes for a 3% noise (12 for the baseline, up to 26 a candidate).
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.js', '--scope', 'src/**', '--repeats', '2'], repo, env).code).toBe(0);
    expect(run(repo)).toMatchObject({ status: 'ok' });
    expect(log(repo, 'baseline')).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/prog.js'), SABOTAGE);
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/wrote into the best's tree/);
    expect(log(repo, 'sabotage')).toMatchObject({ verdict: 'invalid' });
    // The next run compares against the best as kept, not the tree the candidate left.
    fs.writeFileSync(path.join(repo, 'src/prog.js'), '\n// a no-op change\n');
    run(repo);
    expect(fs.readFileSync(path.join(bestTree(repo), 'src/v'), 'utf8')).toBe('100\n');
  });
  it("the tree is walked once per row of the candidate's commands, and a write by the last one (the checks) is still caught", () => {
    const repo = makeRepo({ 'bench.js': BENCH, 'src/prog.js': '\n', 'src/v': '100\n', 'check.js': CHECK });
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.js', '--checks', 'node check.js', '--scope', 'src/**', '--repeats', '2'], repo, env).code).toBe(0);
    expect(run(repo)).toMatchObject({ status: 'ok' });
    expect(log(repo, 'baseline')).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/prog.js'), '\n// a no-op change\n');
    const counts = path.join(tmpDir('autoloop-best-walks-'), 'counts');
    const r = engine('run-experiment', ['--json'], repo, { ...env, AUTOLOOP_COUNT_IO: counts }).json as Record<string, unknown>;
    expect(r).toMatchObject({ status: 'ok' });
    const rec = JSON.parse(fs.readFileSync(path.join(repo, EXP, 'runs', String(r.run_id), 'result.json'), 'utf8')) as { invocations: { arm: string }[] };
    const arms = rec.invocations.map((i) => i.arm);
    const own = arms.filter((a) => a === 'candidate').length + 1; // and the checks
    const walks = Number(/^best_walk (\d+)$/m.exec(fs.readFileSync(counts, 'utf8'))?.[1] ?? 0);
    // One walk per row (before the best is measured again, and when the run ends): the B C C B order pairs them.
    const rows = arms.filter((a, i) => a === 'best' && arms[i - 1] === 'candidate').length + 1;
    expect(walks).toBe(rows);
    expect(walks).toBeLessThan(own);
    expect(log(repo, 'no-op')).toMatchObject({ verdict: expect.any(String) });
    // The checks of the next run write the best's tree: found when the run ends, the tree built again.
    fs.writeFileSync(path.join(repo, 'src/prog.js'), '\n// another no-op change\n');
    fs.writeFileSync(path.join(repo, 'src/sabotage-checks'), '1\n');
    const before = bestTree(repo);
    const s = run(repo);
    expect(s).toMatchObject({ status: 'invalid' });
    expect(String(s.reason)).toMatch(/wrote into the best's tree/);
    expect(fs.existsSync(path.join(repo, EXP, 'best.json')) ? bestTree(repo) : null).not.toBe(before);
  });
});
