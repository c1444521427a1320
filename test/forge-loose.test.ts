// A benchmark that rewrites a loose object of an earlier keep in place (.git/objects/xx/yyyy: chmod,
// then the deflated bytes of another blob under the same name). git never checks an object's hash when
// it reads one, so every later read of that keep (a revert, the best's tree, finalize) gave the forged
// bytes. The objects the phase changed are hashed again (loose-forged.ts): the run is invalid, the
// object set aside, and made again from the tree where a file still holds its bytes. Real engine, git.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';
import { LOOSE_FORGER } from './helpers/forge.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

function loop(): { repo: string; run: (d: string) => ReturnType<typeof engine>; forge: (id: string) => void } {
  const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/w': '1\n', 'src/hook.sh': ':\n' });
  const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1'], repo);
  expect(init.code, init.stderr).toBe(0);
  const run = (d: string) => engine('run-experiment', ['--description', d, '--json'], repo);
  expect(run('baseline').json).toMatchObject({ verdict: 'keep' });
  const forger = path.join(tmpDir('autoloop-loose-'), 'forge.js');
  fs.writeFileSync(forger, LOOSE_FORGER);
  const forge = (id: string) => fs.writeFileSync(path.join(repo, 'src/hook.sh'), `[ -f "${forger}.done" ] || { node "${forger}" "$(git rev-parse --path-format=absolute --git-common-dir)/objects" ${id} && touch "${forger}.done"; }\n`);
  return { repo, run, forge };
}

const loose = (repo: string, id: string) => path.join(repo, '.git/objects', id.slice(0, 2), id.slice(2));

describe('a loose object of a keep rewritten in place by the benchmark', () => {
  it("the best's blob, still in the tree: the run is invalid, the object made again as it was", () => {
    const { repo, run, forge } = loop();
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(run('A').json).toMatchObject({ verdict: 'keep' });
    const id = git(repo, 'rev-parse', 'HEAD:src/v');
    expect(fs.existsSync(loose(repo, id))).toBe(true);
    forge(id);
    fs.writeFileSync(path.join(repo, 'src/w'), '2\n');
    const r = run('B');
    expect(r.json, r.stderr).toMatchObject({ status: 'invalid' });
    expect(JSON.stringify(r.json)).toContain(path.join('.git/objects', id.slice(0, 2), id.slice(2)));
    expect(git(repo, 'cat-file', 'blob', id)).toBe('40');
    expect(fs.existsSync(`${loose(repo, id)}.autoloop-forged`)).toBe(true);
    // The loop goes on: the best's tree reads the measured bytes.
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(run('C').json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'autoloop/exp~1:src/v')).toBe('40');
  });

  it('an earlier keep whose bytes no file holds: set aside, never read back forged', () => {
    const { repo, run, forge } = loop();
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(run('A').json).toMatchObject({ verdict: 'keep' });
    const id = git(repo, 'rev-parse', 'HEAD:src/v');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(run('C').json).toMatchObject({ verdict: 'keep' });
    forge(id);
    fs.writeFileSync(path.join(repo, 'src/w'), '2\n');
    const r = run('B');
    expect(r.json, r.stderr).toMatchObject({ status: 'invalid' });
    const read = spawnSync('git', ['cat-file', 'blob', id], { cwd: repo, encoding: 'utf8' });
    expect(read.stdout).not.toBe('1000\n');
    expect(read.status).not.toBe(0);
    expect(fs.readFileSync(`${loose(repo, id)}.autoloop-forged`).length).toBeGreaterThan(0);
  });
});
