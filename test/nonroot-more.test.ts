// More of a user's journeys with the engine run as `nobody` (test/helpers/as-user.ts),
// beside test/nonroot-journeys.test.ts: `diagnose --profile` writing its
// profiles (Node and Python) into the scratch area, `finalize` where the
// user's files and the repository's top folder are read-only, and `up`
// starting a session (a stand-in for claude that pauses the loop) and ending
// when the loop is paused. Each worked as `nobody` when first run this way;
// these keep it so.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeRepo } from './helpers/engine.ts';
import { chownTree, hasSetpriv, isRoot, makeUser, NOBODY, type User } from './helpers/as-user.ts';
import { tmpDir } from './helpers/tmp.ts';

const EXP = '.autoloop/experiments/exp';
const BENCH = `node -e "let s = 0; for (let i = 0; i < 1e6; i++) s += i"
/usr/bin/python3 -c "sum(range(100000))"
echo METRIC score=$(cat src/v)
`;

function loop(user: User): string {
  const repo = user.repo('nonroot-more', () => makeRepo({ 'bench.sh': BENCH, 'src/v': '10\n', 'docs/notes.txt': 'n\n' }));
  const init = user.engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1'], repo);
  expect(init.code, init.stderr).toBe(0);
  expect(user.engine('run-experiment', ['-d', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
  return repo;
}

describe.skipIf(!isRoot || !hasSetpriv)('more journeys as a user who is not root', { timeout: 600_000 }, () => {
  it('diagnose --profile node-cpu and py-cpu: the profiles and their summaries, the user\'s own, in the scratch area', () => {
    const user = makeUser(NOBODY);
    const repo = loop(user);
    for (const [kind, name] of [['node-cpu', /^CPU\.\d+\.cpuprofile$/], ['py-cpu', /^py-\d+\.prof$/]] as const) {
      const r = user.engine('diagnose', ['--profile', kind, '--json'], repo);
      expect(r.code, r.stderr).toBe(0);
      const dir = fs.readdirSync(path.join(repo, EXP, 'scratch')).filter((d) => d.startsWith('diagnose-')).map((d) => path.join(repo, EXP, 'scratch', d)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0]!;
      const files = fs.readdirSync(dir);
      const profile = files.find((f) => name.test(f));
      expect(profile, files.join(' ')).toBeDefined();
      expect(files).toContain(`${profile}.txt`);
      expect(fs.statSync(path.join(dir, profile!)).uid).toBe(NOBODY);
    }
  });

  it('finalize where the user made its files and the repository\'s top folder read-only', () => {
    const user = makeUser(NOBODY);
    const repo = loop(user);
    user.sh(repo, 'echo 5 > src/v');
    expect(user.engine('run-experiment', ['-d', 'keep 5', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    user.sh(repo, 'chmod -R a-w src docs bench.sh; chmod a-w .');
    const fin = user.engine('finalize', [], repo);
    expect(fin.code, fin.stderr).toBe(0);
    expect(fin.stdout).toMatch(/branch autoloop\/exp-final created/);
    expect(user.sh(repo, 'git log --format=%s main..autoloop/exp-final')).toBe('keep 5\n');
    expect(user.sh(repo, 'git status --porcelain')).toBe('');
    expect(fs.existsSync(path.join(repo, EXP, 'report.md'))).toBe(true);
  });

  it('up: starts the session as the user and ends when the loop is paused', () => {
    const user = makeUser(NOBODY);
    const repo = loop(user);
    // A stand-in for claude: the session pauses the loop (as a user's `control stop` would) and ends.
    const bin = tmpDir('autoloop-nr-bin-');
    const control = user.engineEntry('control');
    fs.writeFileSync(path.join(bin, 'claude'), `#!/bin/sh\nid -u > "$PWD/claude.uid"\nexec "${process.execPath}" "${control}" stop --cwd "$PWD" >/dev/null\n`, { mode: 0o755 });
    chownTree(bin, NOBODY);
    const up = user.engine('up', ['--claude', path.join(bin, 'claude'), '--max-per-hour', '2'], repo);
    expect(up.stderr).toMatch(/session 1: started claude/);
    expect(up.code, up.stderr).toBe(0);
    expect(fs.readFileSync(path.join(repo, 'claude.uid'), 'utf8')).toBe(`${NOBODY}\n`);
    expect(fs.existsSync(path.join(repo, '.autoloop/up.lock'))).toBe(false);
  });
});
