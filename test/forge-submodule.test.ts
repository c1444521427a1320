// A submodule's own git dir (`.git/modules/<name>/`) lies under `.git`, writable under
// every containment. The engine's status asked git to look inside submodules
// (`--ignore-submodules=none`), and git does that by running `git status` in each one,
// with that submodule's config: a clean filter the benchmark wrote there (with an
// attributes line naming it and a file's stat made stale) ran as the engine, outside
// the containment, at the engine's next status. The engine's `-c filter.X.clean=` named
// only the superproject's drivers. Now no engine git command lets git recurse into a
// submodule; the engine looks into each one itself, with that one's drivers off, so
// a change inside a submodule still makes the run invalid. Real engine, real git.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';
import { fromState } from './helpers/loop.ts';
import { tmpDir } from './helpers/tmp.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

/** A repository with a submodule at vendor/lib (one file, f) and a kept baseline of 50. */
function start(): string {
  return fromState('forge-submodule:base', () => {
    const sub = makeRepo({ f: 'library\n' });
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    git(repo, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', sub, 'vendor/lib');
    git(repo, 'commit', '-qm', 'submodule');
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    return repo;
  });
}

/** A hook that plants a clean filter in the submodule (config, attributes, and `extra`) and makes git hash its file again. */
function planter(marker: string, extra = ''): string {
  const evil = path.join(path.dirname(marker), 'evil.sh');
  fs.writeFileSync(evil, `#!/bin/sh\necho ran >> '${marker}'\ncat\n`, { mode: 0o755 });
  return [
    `printf '[filter "x"]\\n\\tclean = ${evil}\\n' >> .git/modules/vendor/lib/config`,
    'mkdir -p .git/modules/vendor/lib/info',
    "echo '* filter=x' > .git/modules/vendor/lib/info/attributes",
    extra,
    "touch -d '2001-01-01' vendor/lib/f",
    '',
  ].join('\n');
}

describe("a filter planted in a submodule's git dir", () => {
  it.each([
    ['the default', ''],
    ['with the submodule set to be looked into (submodule.<name>.ignore=none)', 'git config submodule.vendor/lib.ignore none'],
    ['with diff.ignoreSubmodules=none', 'git config diff.ignoreSubmodules none'],
  ])('never runs from an engine git command (%s)', (_what, extra) => {
    const repo = start();
    const marker = path.join(tmpDir('autoloop-mark-'), 'ran');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), planter(marker, extra));
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    const r = engine('run-experiment', ['--description', 'A', '--json'], repo);
    expect(r.json, r.stderr).not.toBeNull();
    expect(fs.existsSync(marker)).toBe(false);
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    expect(engine('status', ['--json'], repo).code).toBe(0);
    expect(engine('finalize', ['--json'], repo).code).not.toBeNull();
    expect(fs.existsSync(marker)).toBe(false);
    // The attack is real: what the run planted is still there, and git's own recursion runs it.
    fs.utimesSync(path.join(repo, 'vendor/lib/f'), new Date('2002-01-01'), new Date('2002-01-01'));
    git(repo, 'status', '--porcelain');
    expect(fs.existsSync(marker)).toBe(true);
  });

  it.each([
    ['a change inside the submodule', 'echo forged >> vendor/lib/f\n'],
    ['a file left untracked inside it', 'echo x > vendor/lib/new\n'],
  ])('%s still makes the run invalid', (_what, hook) => {
    const repo = start();
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), hook);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    const r = engine('run-experiment', ['--description', 'A', '--json'], repo);
    expect(r.json, r.stderr).toMatchObject({ verdict: 'invalid' });
    expect(String(r.json?.reason)).toMatch(/outside the scope: vendor\/lib/);
  });
});
