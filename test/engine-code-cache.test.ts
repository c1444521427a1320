// The hot entry points (run-experiment, log-experiment, status) start through
// dist/engine-loader.cjs with a V8 code cache in <dist>/.v8cache/. The cache
// may only spare compile work: with it, without it, garbage or of another
// build, every call answers the same. Builds the bundles as scripts/build.mjs
// makes them (into a temp dir), since the test build has no loader.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromTemplate, initValue, makeRepo, ROOT, setValue, step } from './helpers/engine.ts';

let dist: string;
const cacheDir = () => path.join(dist, '.v8cache');
const caches = (): string[] => (fs.existsSync(cacheDir()) ? fs.readdirSync(cacheDir()).sort() : []);

beforeAll(() => {
  dist = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-loader-dist-'));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--outdir', dist], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
});
afterAll(() => fs.rmSync(dist, { recursive: true, force: true }));

function call(name: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(dist, `${name}.mjs`), ...args, '--cwd', cwd], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A copy of a repository with "exp" opened and its baseline (100) logged, built
 * once for the file. Its benchmark prints src/value.txt in shell: the cache is
 * under test, not the benchmark (no Node start per sample).
 */
const shellBaseline = (): string =>
  fromTemplate('shell baseline', () => {
    const repo = makeRepo({ 'bench.sh': 'read -r v < src/value.txt\necho "METRIC score=$v"\n', 'src/value.txt': '100' });
    const init = initValue(repo, ['--command', 'sh bench.sh']);
    if (init.code !== 0) throw new Error(`init-experiment failed: ${init.stderr}`);
    if (step(repo, 'baseline').verdict !== 'keep') throw new Error('the baseline was not kept');
    return repo;
  });

/** One-call keeps with the value going down; the answer without its commit id and timings. */
function keep(repo: string, value: number, env: Record<string, string> = {}) {
  setValue(repo, String(value));
  const r = call('run-experiment', ['--description', `value ${value}`, '--json'], repo, env);
  const j = JSON.parse(r.stdout || '{}') as Record<string, unknown>;
  return { code: r.code, stderr: r.stderr, verdict: j.verdict, run_id: j.run_id };
}

describe('engine code cache', () => {
  it('the hot entry points are stubs that boot a CommonJS bundle; the others are whole ES modules', () => {
    for (const name of ['run-experiment', 'log-experiment', 'status', 'init-experiment']) {
      expect(fs.statSync(path.join(dist, `${name}.mjs`)).size).toBeLessThan(1024);
      expect(fs.readFileSync(path.join(dist, `${name}.cjs`), 'utf8')).toMatch(/\n\/\/# engine-build=[0-9a-f]{16}\n$/);
    }
    expect(fs.existsSync(path.join(dist, 'dashboard.cjs'))).toBe(false);
    expect(fs.statSync(path.join(dist, 'dashboard.mjs')).size).toBeGreaterThan(10_000);
  });

  it('each hot <name>.mjs links to a CommonJS stub, which Node then runs as CommonJS (a faster start than an ES module)', () => {
    for (const name of ['run-experiment', 'log-experiment', 'status', 'init-experiment']) {
      const entry = path.join(dist, `${name}.mjs`);
      expect(fs.lstatSync(entry).isSymbolicLink(), name).toBe(true);
      expect(fs.readlinkSync(entry)).toBe(`${name}.main.cjs`);
    }
    // Node names a linked entry point's format by its target: what the link is for.
    const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-link-probe-'));
    try {
      fs.writeFileSync(path.join(probe, 'm.cjs'), "process.stdout.write(typeof require === 'function' ? 'commonjs' : 'module')");
      fs.symlinkSync('m.cjs', path.join(probe, 'm.mjs'));
      expect(spawnSync(process.execPath, [path.join(probe, 'm.mjs')], { encoding: 'utf8' }).stdout).toBe('commonjs');
    } finally {
      fs.rmSync(probe, { recursive: true, force: true });
    }
  });

  it('a copy of dist/ that followed the links (regular .mjs files) still runs every hot entry point, as ES modules', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-deref-dist-'));
    try {
      fs.cpSync(dist, copy, { recursive: true, dereference: true });
      expect(fs.lstatSync(path.join(copy, 'run-experiment.mjs')).isSymbolicLink()).toBe(false);
      for (const name of ['run-experiment', 'log-experiment', 'status', 'init-experiment']) {
        const r = spawnSync(process.execPath, [path.join(copy, `${name}.mjs`), '--help'], { encoding: 'utf8' });
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^usage: ${name}`));
      }
      // A real call, not only --help: a whole iteration through the copied stub.
      const repo = shellBaseline();
      setValue(repo, '90');
      const r = spawnSync(process.execPath, [path.join(copy, 'run-experiment.mjs'), '--description', 'lower', '--json', '--cwd', repo], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ verdict: 'keep' });
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('a one-call keep and a status load no node:module (only the ES-module fallback of yaml.ts and loose-object.ts needs createRequire)', () => {
    const repo = shellBaseline();
    const list = path.join(repo, '..', `${path.basename(repo)}-modules.txt`);
    const preload = path.join(repo, '..', `${path.basename(repo)}-preload.cjs`);
    fs.writeFileSync(preload, `process.once('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
    const loaded = (name: string, args: string[]): string[] => {
      setValue(repo, '70');
      const r = spawnSync(process.execPath, ['-r', preload, path.join(dist, `${name}.mjs`), ...args, '--cwd', repo], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return fs.readFileSync(list, 'utf8').split('\n');
    };
    for (const [name, args] of [['run-experiment', ['--description', 'value 70']], ['status', []]] as const) {
      const mods = loaded(name, [...args]);
      expect(mods).toContain('NativeModule child_process');
      expect(mods).not.toContain('NativeModule module');
    }
    fs.rmSync(repo, { recursive: true, force: true });
    fs.rmSync(list, { force: true });
    fs.rmSync(preload, { force: true });
    // The next test starts with no cache written.
    fs.rmSync(cacheDir(), { recursive: true, force: true });
  });

  it('each CommonJS bundle is written inside the wrapper the loaders compile it in, and an unwrapped one still runs', () => {
    const names = [...['run-experiment', 'log-experiment', 'status', 'init-experiment'].map((n) => `${n}.cjs`)];
    for (const f of names) expect(fs.readFileSync(path.join(dist, f), 'utf8').startsWith('(function (exports, require, module, __filename, __dirname) {')).toBe(true);
    // A bundle of the old layout (the code alone, then its tag): the loader wraps it itself.
    const old = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-loader-unwrapped-'));
    try {
      for (const f of ['engine-loader.cjs', 'status.main.cjs']) fs.copyFileSync(path.join(dist, f), path.join(old, f));
      const text = fs.readFileSync(path.join(dist, 'status.cjs'), 'utf8');
      const m = /^\(function \(exports, require, module, __filename, __dirname\) \{([\s\S]*)\n\}\)\n(\/\/# engine-build=[0-9a-f]{16}\n)$/.exec(text);
      expect(m).not.toBeNull();
      fs.writeFileSync(path.join(old, 'status.cjs'), `${m![1]}\n${m![2]}`);
      const r = spawnSync(process.execPath, [path.join(old, 'status.main.cjs'), '--help'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^usage: status/);
    } finally {
      fs.rmSync(old, { recursive: true, force: true });
    }
  });

  it('is written by a successful call, not by --help or a usage error, and then used as it is', () => {
    const repo = shellBaseline();
    expect(call('run-experiment', ['--help'], repo).code).toBe(0);
    expect(call('run-experiment', ['--bogus'], repo).code).toBe(2);
    expect(caches()).toEqual([]);
    expect(keep(repo, 90)).toMatchObject({ code: 0, verdict: 'keep' });
    const status = call('status', ['--json'], repo);
    expect(status.code).toBe(0);
    const written = caches();
    expect(written).toEqual([`run-experiment-describe-${process.version}-${process.arch}.bin`, `status-${process.version}-${process.arch}.bin`]);
    const ino = written.map((f) => fs.statSync(path.join(cacheDir(), f)).ino);
    expect(keep(repo, 80)).toMatchObject({ code: 0, verdict: 'keep' });
    expect(call('status', ['--json'], repo).code).toBe(0);
    // Accepted: not rewritten (a rejected cache is replaced by a new file).
    expect(written.map((f) => fs.statSync(path.join(cacheDir(), f)).ino)).toEqual(ino);
    fs.rmSync(repo, { recursive: true, force: true });
  });

  it('answers the same with a garbage cache, a cache of another build, or none at all, and replaces a bad one', () => {
    const a = shellBaseline();
    const b = shellBaseline();
    expect(keep(a, 95)).toEqual(keep(b, 95, { AUTOLOOP_CODE_CACHE: '0' }));
    const file = path.join(cacheDir(), `run-experiment-describe-${process.version}-${process.arch}.bin`);
    expect(fs.existsSync(file)).toBe(true);
    const key = fs.readFileSync(file).subarray(0, fs.readFileSync(file).indexOf(10) + 1);
    // Garbage behind the right key: V8 rejects it, the call compiles plainly and writes a good one.
    fs.writeFileSync(file, Buffer.concat([key, Buffer.alloc(4096, 0x5a)]));
    const garbled = keep(a, 85);
    const plain = keep(b, 85, { AUTOLOOP_CODE_CACHE: '0' });
    expect(garbled).toEqual(plain);
    expect(garbled).toMatchObject({ code: 0, verdict: 'keep' });
    expect(fs.readFileSync(file).subarray(key.length).every((x) => x === 0x5a)).toBe(false);
    // Another build's key: set aside and replaced; caches of other Node binaries removed.
    const body = fs.readFileSync(file);
    fs.writeFileSync(file, Buffer.concat([Buffer.from('0000000000000000:1:1\n'), body.subarray(key.length)]));
    fs.writeFileSync(path.join(cacheDir(), 'status-v20.0.0-x64.bin'), 'old');
    expect(keep(a, 75)).toEqual(keep(b, 75, { AUTOLOOP_CODE_CACHE: '0' }));
    expect(fs.readFileSync(file).subarray(0, key.length)).toEqual(key);
    expect(caches()).not.toContain('status-v20.0.0-x64.bin');
    for (const r of [a, b]) fs.rmSync(r, { recursive: true, force: true });
  });
  it('a cache the code under test wrote or changed while it ran is deleted, so no later call runs code it planted', () => {
    const name = (entry: string) => path.join(cacheDir(), `${entry}-${process.version}-${process.arch}.bin`);
    const target = name('run-experiment-describe');
    const planted = name('log-experiment-describe');
    // Without the read-only engine folder (the fallback containments), the benchmark can reach the caches.
    const bench = `echo "METRIC score=$(cat src/value.txt)"\n[ ! -f '${target}' ] || printf forged >> '${target}'\nprintf forged > '${planted}'\n`;
    const repo = makeRepo({ 'bench.sh': bench, 'src/value.txt': '100' });
    const env = { AUTOLOOP_CONTAINMENT: 'group' };
    expect(call('init-experiment', ['--name', 'c', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo, env).code).toBe(0);
    expect(keep(repo, 100, env)).toMatchObject({ code: 0, verdict: 'keep' });
    fs.rmSync(target, { force: true });
    expect(keep(repo, 90, env)).toMatchObject({ code: 0, verdict: 'keep' });
    expect(fs.existsSync(target), 'the first call writes its cache as it ends').toBe(true);
    expect(keep(repo, 80, env)).toMatchObject({ code: 0, verdict: 'keep' });
    expect(fs.existsSync(target) && fs.readFileSync(target).toString('latin1').endsWith('forged'), 'a changed cache survived the run').toBe(false);
    expect(fs.existsSync(planted), 'a cache planted by the run survived it').toBe(false);
    fs.rmSync(repo, { recursive: true, force: true });
  });
});
