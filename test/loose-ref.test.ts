// The keep's branch update written in the engine (loose-ref.ts) leaves what
// `git update-ref -m` leaves, byte for byte (the ref, its reflog and HEAD's), in
// twin copies of one repository; and wherever a step is not the plain one it
// writes nothing and answers false (git is asked then).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tmpDir } from './helpers/tmp.ts';
import { updateBranchRef, packedValue } from '../scripts/lib/loose-ref.ts';

const base = tmpDir('autoloop-loose-ref-');
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

function envOf(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toUpperCase().startsWith('GIT_') && !['TZ', 'XDG_CONFIG_HOME', 'TZDIR'].includes(k)) env[k] = v;
  return { ...env, HOME: home, TZ: 'Europe/Paris', ...extra };
}
const run = (cwd: string, env: NodeJS.ProcessEnv, ...args: string[]) => {
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};

let n = 0;
/** A repository on branch autoloop/exp with two commits (`old` its head, `next` a second child of the first's parent), and its twin. */
function twins(prep?: (repo: string, env: NodeJS.ProcessEnv) => void): { a: string; b: string; env: NodeJS.ProcessEnv; old: string; next: string } {
  const dir = path.join(base, `t${n++}`);
  const home = path.join(dir, 'home');
  const a = path.join(dir, 'a');
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(a);
  fs.writeFileSync(path.join(home, '.gitconfig'), '[user]\n\tname = Ada Lovelace\n\temail = ada@example.invalid\n');
  const env = envOf(home);
  run(a, env, 'init', '-q', '-b', 'autoloop/exp');
  fs.writeFileSync(path.join(a, 'f'), '1\n');
  run(a, env, 'add', 'f');
  run(a, env, 'commit', '-qm', 'one');
  const old = run(a, env, 'rev-parse', 'HEAD');
  const next = run(a, env, 'commit-tree', 'HEAD^{tree}', '-p', old, '-m', 'two');
  prep?.(a, env);
  const b = path.join(dir, 'b');
  fs.cpSync(a, b, { recursive: true });
  return { a, b, env, old, next };
}

const T = 1751000000;
const files = (repo: string) => ['.git/refs/heads/autoloop/exp', '.git/logs/HEAD', '.git/logs/refs/heads/autoloop/exp', '.git/packed-refs'].map((f) => (fs.existsSync(path.join(repo, f)) ? fs.readFileSync(path.join(repo, f), 'utf8') : null));

describe('the branch update written in the engine', () => {
  for (const [how, prep] of [
    ['a loose ref', undefined],
    ['a packed ref', (repo: string, env: NodeJS.ProcessEnv) => run(repo, env, 'pack-refs', '--all')],
    ['no reflogs yet', (repo: string) => fs.rmSync(path.join(repo, '.git', 'logs'), { recursive: true })],
    ["no logAllRefUpdates line (git's default in a work tree)", (repo: string) => {
      const cfg = path.join(repo, '.git', 'config');
      fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/^\s*logallrefupdates = true\n/m, ''));
    }],
  ] as const) {
    it(`leaves what git update-ref leaves (${how})`, () => {
      const { a, b, env, old, next } = twins(prep);
      expect(updateBranchRef(a, 'autoloop/exp', next, old, 'autoloop: keep r0002', T, env)).toBe(true);
      run(b, { ...env, GIT_COMMITTER_DATE: `@${T}` }, 'update-ref', '-m', 'autoloop: keep r0002', 'refs/heads/autoloop/exp', next, old);
      expect(files(a)).toEqual(files(b));
      expect(files(a)[0]).toBe(`${next}\n`);
      expect(fs.readdirSync(path.join(a, '.git')).filter((f) => f.endsWith('.lock'))).toEqual([]);
      expect(run(a, env, 'fsck', '--strict', '--no-dangling')).toBe('');
      expect(run(a, env, 'reflog', '-1', '--format=%gs|%gn', 'autoloop/exp')).toBe('autoloop: keep r0002|Ada Lovelace');
      expect(run(a, env, 'status', '--porcelain', '--branch')).toBe('## autoloop/exp');
    });
  }

  it('writes nothing and answers false wherever a step is not the plain one', () => {
    const cases: Array<[string, (r: string, env: NodeJS.ProcessEnv) => void, string?]> = [
      ['the branch moved (compare-and-swap)', () => {}, 'moved'],
      ['a held ref lock', (r) => fs.writeFileSync(path.join(r, '.git/refs/heads/autoloop/exp.lock'), '')],
      ["a held HEAD lock", (r) => fs.writeFileSync(path.join(r, '.git/HEAD.lock'), '')],
      ['HEAD on another branch', (r, env) => run(r, env, 'checkout', '-q', '-b', 'other')],
      ['the branch a symbolic ref', (r, env) => run(r, env, 'symbolic-ref', 'refs/heads/autoloop/exp', 'refs/heads/main')],
      ['core.logAllRefUpdates set', (r) => fs.appendFileSync(path.join(r, '.git/config'), '[core]\n\tlogAllRefUpdates = false\n')],
      ['an include', (r) => fs.appendFileSync(path.join(r, '.git/config'), '[include]\n\tpath = x\n')],
      ['an identity in doubt', (r) => fs.appendFileSync(path.join(r, '.git/config'), '[committer]\n\tname = C\n')],
    ];
    for (const [what, prep, moved] of cases) {
      const { a, env, old, next } = twins();
      prep(a, env);
      const before = files(a);
      const locks = fs.readdirSync(path.join(a, '.git')).filter((f) => f.endsWith('.lock')).sort();
      expect(updateBranchRef(a, 'autoloop/exp', next, moved ? next : old, 'autoloop: keep r0002', T, env), what).toBe(false);
      expect(files(a), what).toEqual(before);
      expect(fs.readdirSync(path.join(a, '.git')).filter((f) => f.endsWith('.lock')).sort(), what).toEqual(locks);
    }
    const { a, env, old, next } = twins();
    expect(updateBranchRef(a, 'autoloop/exp', next, old, 'two\nlines', T, env)).toBe(false);
    expect(packedValue(`# pack-refs with: peeled fully-peeled sorted \n${old} refs/heads/x\n^${next}\n`, 'refs/heads/x')).toBe(old);
    expect(packedValue(`${old} refs/heads/xy\n`, 'refs/heads/x')).toBeNull();
  });
});
