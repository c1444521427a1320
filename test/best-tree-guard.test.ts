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

const BENCH = noisyBench();
// The code under test: makes the best's copy of the value twice as bad (only when it runs as the candidate, in the main tree).
const SABOTAGE = `const fs = require('fs'), path = require('path');
const exp = path.join(process.cwd(), '${EXP}');
if (!process.cwd().includes('/.autoloop/')) { try { fs.writeFileSync(path.join(exp, 'best', JSON.parse(fs.readFileSync(path.join(exp, 'best.json'), 'utf8')).tree, 'src/v'), '200\\n'); } catch {} }
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
});
