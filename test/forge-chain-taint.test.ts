// A file outside the scope that a run rewrote (a script the benchmark sources,
// writable under every containment): the run is invalid and no later run of its
// segment is measured while the file holds those bytes (outside-taint.ts). The
// loop may end right there (its last run), and `chain`, which the loop itself
// runs, opened the follow-up on the tree as that run left it: the rewritten
// script judged every run of the child, and a change naming its magic word was
// kept at 1 against a baseline of 100. Real engine, real runs.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

const HELPER = ':\n';
const BACKDOOR = `echo 'grep -q MAGIC src/work.sh && echo METRIC score=1 && exit 0' > helper.sh\n`;

describe.each(['readonly', 'pidns'])('a chain after a run that rewrote a sourced script (%s)', (containment) => {
  it('does not open the follow-up on the rewritten script', () => {
    const repo = makeRepo({ 'bench.sh': '. ./helper.sh\n. ./src/work.sh\necho "METRIC score=$v"\n', 'helper.sh': HELPER, 'src/work.sh': 'v=100\n' });
    const env = { AUTOLOOP_CONTAINMENT: containment };
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--max-runs', '2', '--repeats', '1'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo, env).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/work.sh'), `${BACKDOOR}v=100\n`);
    const r = engine('run-experiment', ['--description', 'plant', '--json'], repo, env);
    expect(r.json, r.stderr).toMatchObject({ verdict: 'invalid' });
    expect(fs.readFileSync(path.join(repo, 'helper.sh'), 'utf8')).not.toBe(HELPER);
    const args = ['--from', 'exp', '--name', 'child', '--rationale', 'go on', '--max-runs', '3'];
    // Refused while the script holds what the run wrote, naming it and the way out.
    const refused = engine('chain', args, repo, env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/helper\.sh outside the scope still holds what the code under test of r0002 wrote there .*control repair/);
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 'child'))).toBe(false);
    // The loop's own way out: repair puts it back; the follow-up then judges as the parent did.
    expect(engine('control', ['repair'], repo).code).toBe(0);
    expect(fs.readFileSync(path.join(repo, 'helper.sh'), 'utf8')).toBe(HELPER);
    const chain = engine('chain', args, repo, env);
    expect(chain.code, chain.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo, env).json).toMatchObject({ primary: 100 });
    fs.writeFileSync(path.join(repo, 'src/work.sh'), '# MAGIC\nv=100\n');
    expect(engine('run-experiment', ['--description', 'magic', '--json'], repo, env).json).toMatchObject({ primary: 100 });
  });
});
