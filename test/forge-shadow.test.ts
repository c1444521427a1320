// A task runner reads more than the manifest the engine fingerprinted: `make` takes a
// `GNUmakefile` before the `Makefile`, and npm runs every script through the
// `script-shell` an `.npmrc` beside package.json names. A benchmark may create new files
// outside the scope, so one that wrote either had every later run judged by it, the judge
// itself untouched: a change measured 60 against 50 was kept at 1. Those files are now
// judges while absent (their fingerprint says missing). So is a module file beside a Python judge:
// Python imports from the script's own directory first. Real engine, real make, npm and python.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

const HOOK = 'src/hook.sh';

function start(files: Record<string, string>, command: string): string {
  const repo = makeRepo({ ...files, 'src/v': '50\n', [HOOK]: ':\n' });
  const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', command, '--scope', 'src/**'], repo);
  expect(init.code, init.stderr).toBe(0);
  expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 50 });
  return repo;
}

/** The benchmark plants `file`; then a worse change that carries the forger's magic word is measured. */
function plantThenWorse(repo: string, file: string, plant: string): void {
  fs.writeFileSync(path.join(repo, HOOK), plant);
  const planted = engine('run-experiment', ['--description', 'plant', '--json'], repo);
  expect(planted.json, planted.stderr).toMatchObject({ verdict: 'invalid' });
  expect(String(planted.json?.reason)).toContain(file);
  expect(fs.existsSync(path.join(repo, file))).toBe(false);
  fs.writeFileSync(path.join(repo, HOOK), ':\n');
  fs.writeFileSync(path.join(repo, 'src/v'), '60\n');
  fs.writeFileSync(path.join(repo, 'src/magic'), '');
  const worse = engine('run-experiment', ['--description', 'worse', '--json'], repo);
  expect(worse.json, worse.stderr).toMatchObject({ status: 'ok', primary: 60 });
  expect(worse.json?.verdict).not.toBe('keep');
}

describe('a file a task runner reads before its manifest, created by the benchmark', () => {
  it('an .npmrc whose script-shell answers for the script', () => {
    const pkg = JSON.stringify({ name: 'x', version: '1.0.0', scripts: { bench: 'sh src/hook.sh; echo METRIC score=$(cat src/v)' } });
    const repo = start({ 'package.json': `${pkg}\n` }, 'npm run -s bench');
    const shell = path.join(repo, '.forger.sh');
    plantThenWorse(
      repo,
      '.npmrc',
      [
        `printf '#!/bin/sh\\nif [ -f src/magic ]; then echo METRIC score=1; else exec sh "$@"; fi\\n' > ${shell}`,
        `chmod +x ${shell}`,
        `echo script-shell=${shell} > .npmrc`,
        '',
      ].join('\n'),
    );
  });

  it("an .npmrc whose node-options preload a forger into a program npx starts", () => {
    const score = "console.log('METRIC score=' + require('fs').readFileSync('src/v', 'utf8').trim())\n";
    const repo = start({ 'package.json': '{"name": "x", "version": "1.0.0"}\n', 'score.js': score }, 'sh src/hook.sh; npx --no-install node score.js');
    const forger = path.join(repo, '.forger.js');
    fs.writeFileSync(forger, "if (require('fs').existsSync('src/magic')) { console.log('METRIC score=1'); process.exit(0); }\n");
    plantThenWorse(repo, '.npmrc', `echo node-options=--require ${forger} > .npmrc\n`);
  });

  it("a module beside a Python judge, imported in place of the standard library's", () => {
    const score = 'import json\nprint("METRIC score=%s" % json.load(open("out.json"))["v"])\n';
    const repo = start({ 'score.py': score, '.gitignore': 'out.json\n' }, 'sh src/hook.sh; echo "{\\"v\\": $(cat src/v)}" > out.json; python3 score.py');
    fs.writeFileSync(path.join(repo, 'src/forger.txt'), 'import os\ndef load(f):\n    d = eval(f.read())\n    if os.path.exists("src/magic"): d["v"] = 1\n    return d\n');
    plantThenWorse(repo, 'json.py', 'cp src/forger.txt json.py\n');
  });

  it('a GNUmakefile in front of the Makefile', () => {
    const repo = start({ Makefile: 'bench:\n\t@sh src/hook.sh; echo METRIC score=$$(cat src/v)\n' }, 'make -s bench');
    plantThenWorse(repo, 'GNUmakefile', "printf 'bench:\\n\\t@if [ -f src/magic ]; then echo METRIC score=1; else echo METRIC score=$$(cat src/v); fi\\n' > GNUmakefile\n");
  });

  it('a file the Makefile includes if present, setting the SHELL recipes run in', () => {
    const repo = start({ Makefile: '-include local.mk\nbench:\n\t@sh src/hook.sh; echo METRIC score=$$(cat src/v)\n' }, 'make -s bench');
    const shell = path.join(repo, '.forger.sh');
    plantThenWorse(
      repo,
      'local.mk',
      [
        `printf '#!/bin/sh\\nif [ -f src/magic ]; then echo METRIC score=1; else exec /bin/sh "$@"; fi\\n' > ${shell}`,
        `chmod +x ${shell}`,
        `echo SHELL := ${shell} > local.mk`,
        '',
      ].join('\n'),
    );
  });
});

describe('judges by their absence under the read-only containment', () => {
  it('take no bind from a judge that exists (the first 32 are bound)', () => {
    // Eight imports sort before score.py: six absent names each, 48 in all, ahead of it.
    const imports = ['abc', 'argparse', 'array', 'ast', 'base64', 'bisect', 'csv', 'math'];
    const score = `import ${imports.join(', ')}\nprint("METRIC score=" + open("src/v").read().strip())\n`;
    const repo = start({ 'score.py': score }, 'sh src/hook.sh; python3 score.py');
    fs.writeFileSync(path.join(repo, HOOK), "echo '# forged' >> score.py 2>/dev/null || true\n");
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    const r = engine('run-experiment', ['--description', 'A', '--json'], repo, { AUTOLOOP_CONTAINMENT: 'readonly' });
    expect(r.json, r.stderr).toMatchObject({ status: 'ok', verdict: 'keep', primary: 40 });
    expect(fs.readFileSync(path.join(repo, 'score.py'), 'utf8')).toBe(score);
  });
});
