// Node resolves a judge's imports by trying names in order: `require('./lib')` takes `lib.js`
// before `lib/index.js`, a `package.json` in `lib/` names another entry, a bare name takes the
// closest `node_modules`, and the nearest `package.json` maps `#x` imports. A new file outside
// the scope is allowed, so a benchmark that wrote one of those first had every later run judged
// by it, the judge untouched: a change measured 60 against 50 was kept at 1. Each such name is
// now a judge while absent, and the package a bare import resolved to is a judge.
// Real engine, real node, under the default containment and under `group`.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

const HOOK = 'src/hook.sh';
const READ = "require('fs').readFileSync('src/v', 'utf8').trim()";
/** The forger's module: the true score, or 1 once the change carries the magic word. */
const FORGER = `module.exports = { score: () => (require('fs').existsSync('src/magic') ? '1' : ${READ}) };\n`;
const LIB = `module.exports = { score: () => ${READ} };\n`;

/** A repository with `files`, `prepare`d (files outside git), the experiment opened and its baseline kept at 50. */
function start(files: Record<string, string>, command: string, env: Record<string, string>, prepare: (repo: string) => void = () => {}): string {
  const repo = makeRepo({ ...files, 'src/v': '50\n', [HOOK]: ':\n', 'src/forger.txt': FORGER, '.gitignore': 'node_modules/\n' });
  prepare(repo);
  const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', command, '--scope', 'src/**'], repo, env);
  expect(init.code, init.stderr).toBe(0);
  expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo, env).json).toMatchObject({ verdict: 'keep', primary: 50 });
  return repo;
}

/**
 * The benchmark plants `file` (with `plant`); then a worse change that carries the forger's magic word is measured.
 * `was`: the file's bytes before (it exists): under the read-only containment the write may be refused instead.
 */
function plantThenWorse(repo: string, file: string, plant: string, env: Record<string, string>, was?: string): void {
  fs.writeFileSync(path.join(repo, HOOK), plant);
  const planted = engine('run-experiment', ['--description', 'plant', '--json'], repo, env);
  if (was !== undefined && planted.json?.verdict !== 'invalid') {
    expect(planted.json?.verdict, planted.stderr).not.toBe('keep');
  } else {
    expect(planted.json, planted.stderr).toMatchObject({ verdict: 'invalid' });
    expect(String(planted.json?.reason)).toContain(file);
  }
  if (was === undefined) expect(fs.existsSync(path.join(repo, file))).toBe(false);
  else expect(fs.readFileSync(path.join(repo, file), 'utf8')).toBe(was);
  fs.writeFileSync(path.join(repo, HOOK), ':\n');
  fs.writeFileSync(path.join(repo, 'src/v'), '60\n');
  fs.writeFileSync(path.join(repo, 'src/magic'), '');
  const worse = engine('run-experiment', ['--description', 'worse', '--json'], repo, env);
  expect(worse.json, worse.stderr).toMatchObject({ status: 'ok', primary: 60 });
  expect(worse.json?.verdict).not.toBe('keep');
}

const BENCH = "console.log('METRIC score=' + require('./lib').score());\n";
const PKG_DIR = { 'bench/bench.js': BENCH, 'bench/lib/index.js': LIB };
const CMD = 'sh src/hook.sh; node bench/bench.js';
/** A package outside git (node_modules is ignored), as npm would install it. */
function installPkg(repo: string): void {
  fs.mkdirSync(path.join(repo, 'node_modules/some-pkg'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'node_modules/some-pkg/package.json'), '{"name": "some-pkg", "version": "1.0.0", "main": "main.js"}\n');
  fs.writeFileSync(path.join(repo, 'node_modules/some-pkg/main.js'), LIB);
}
const BARE = { 'bench/bench.js': "console.log('METRIC score=' + require('some-pkg').score());\n" };

for (const mode of ['default', 'group'] as const) {
  const env: Record<string, string> = mode === 'group' ? { AUTOLOOP_CONTAINMENT: 'group' } : {};
  describe(`a file Node finds before the one a judge imported (${mode} containment)`, () => {
    it('a lib.js in front of lib/index.js', () => {
      const repo = start(PKG_DIR, CMD, env);
      plantThenWorse(repo, 'bench/lib.js', 'cp src/forger.txt bench/lib.js\n', env);
    });

    it("a package.json in lib/ whose main names another file", () => {
      const repo = start(PKG_DIR, CMD, env);
      plantThenWorse(repo, 'bench/lib/package.json', 'cp src/forger.txt bench/lib/forged.js; echo \'{"main": "forged.js"}\' > bench/lib/package.json\n', env);
    });

    it('a closer node_modules folder in front of the package a bare import resolved', () => {
      const repo = start(BARE, CMD, env, installPkg);
      plantThenWorse(repo, 'bench/node_modules/some-pkg/package.json', 'mkdir -p bench/node_modules/some-pkg; cp src/forger.txt bench/node_modules/some-pkg/index.js; echo \'{"name": "some-pkg"}\' > bench/node_modules/some-pkg/package.json\n', env);
    });

    it('the installed package rewritten', () => {
      const repo = start(BARE, CMD, env, installPkg);
      plantThenWorse(repo, 'node_modules/some-pkg/main.js', 'cp src/forger.txt node_modules/some-pkg/main.js\n', env, LIB);
    });

    it('a package.json beside the judge whose name and exports answer its bare import', () => {
      const repo = start(BARE, CMD, env, installPkg);
      plantThenWorse(repo, 'bench/package.json', 'cp src/forger.txt bench/forged.js; echo \'{"name": "some-pkg", "exports": "./forged.js"}\' > bench/package.json\n', env);
    });

    it('a package.json beside the judge whose imports map a # name', () => {
      const judge = "console.log('METRIC score=' + require('#lib').score());\n";
      const files = { 'bench/bench.js': judge, 'bench/lib/index.js': LIB, 'package.json': '{"name": "x", "imports": {"#lib": "./bench/lib/index.js"}}\n' };
      const repo = start(files, CMD, env);
      plantThenWorse(repo, 'bench/package.json', 'cp src/forger.txt bench/forged.js; echo \'{"imports": {"#lib": "./forged.js"}}\' > bench/package.json\n', env);
    });
  });
}

describe('installed packages a Node judge loads, under the read-only containment', () => {
  it('take no bind from the judge the command names (the first 32 are bound)', () => {
    // Twenty packages: forty judges under node_modules/, all sorting before score.js.
    const names = Array.from({ length: 20 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    const score = `${names.map((n) => `require('${n}');`).join('\n')}\nconsole.log('METRIC score=' + ${READ});\n`;
    const install = (repo: string) => {
      for (const n of names) {
        fs.mkdirSync(path.join(repo, 'node_modules', n), { recursive: true });
        fs.writeFileSync(path.join(repo, 'node_modules', n, 'package.json'), `{"name": "${n}"}\n`);
        fs.writeFileSync(path.join(repo, 'node_modules', n, 'index.js'), '');
      }
    };
    const env = { AUTOLOOP_CONTAINMENT: 'readonly' };
    const repo = start({ 'score.js': score, 'package.json': '{}\n' }, 'sh src/hook.sh; node score.js', env, install);
    fs.writeFileSync(path.join(repo, HOOK), "echo '// forged' >> score.js 2>/dev/null || true\n");
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    const r = engine('run-experiment', ['--description', 'A', '--json'], repo, env);
    expect(r.json, r.stderr).toMatchObject({ status: 'ok', verdict: 'keep', primary: 40 });
    expect(fs.readFileSync(path.join(repo, 'score.js'), 'utf8')).toBe(score);
  });
});
