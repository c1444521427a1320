// The `readonly` containment for a user who is not root (users almost never
// are; the rest of the suite runs as root). util-linux mount(8) refuses any
// uid but 0, so the setup is root of its outer user namespace and gives the
// command its real ids back in the nested one (unshare --map-user, util-linux
// >= 2.38); where unshare has no --map-user, the runs fall back to `pidns`
// with a line in the log, never a failed sample. Real engine, run as `nobody`
// (setpriv), on a repository and a HOME that user owns.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bundle, jsonOf, makeRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const hasSetpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
const EXP = '.autoloop/experiments/exp';
const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');

/** The bundles where `nobody` can read them (the test build's folder is root's alone), owned by it (the loader writes its code cache beside them). */
let dist: string | null = null;
function nobodyDist(): string {
  if (dist) return dist;
  dist = tmpDir('autoloop-nr-dist-');
  // Dereferenced: the entry points are symlinks into the root-only folder.
  fs.cpSync(path.dirname(bundle('status')), dist, { recursive: true, dereference: true });
  chownTree(dist);
  return dist;
}

function chownTree(dir: string): void {
  const r = spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
  expect(r.status).toBe(0);
}

interface User {
  name: string;
  uid: number;
  /** The engine's command line: `nobody` through setpriv, root as the suite runs it. */
  spawn: (args: string[]) => { file: string; args: string[] };
  home: string;
}

function userNobody(): User {
  const home = tmpDir('autoloop-nr-home-');
  chownTree(home);
  return { name: 'nobody', uid: NOBODY, home, spawn: (args) => ({ file: 'setpriv', args: ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', ...args] }) };
}

function userRoot(): User {
  const home = tmpDir('autoloop-nr-home-');
  return { name: 'root', uid: 0, home, spawn: (args) => ({ file: args[0]!, args: args.slice(1) }) };
}

function engineAs(user: User, name: string, args: string[], repo: string, env: Record<string, string> = {}) {
  const entry = user.uid === 0 ? bundle(name) : path.join(nobodyDist(), `${name}.mjs`);
  const { file, args: argv } = user.spawn([process.execPath, entry, ...args, '--cwd', repo]);
  const r = spawnSync(file, argv, { encoding: 'utf8', env: { ...process.env, HOME: user.home, ...env }, timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: jsonOf(r.stdout) };
}

/** A repository the user owns, with an experiment initialised by that user. */
function repoOf(user: User, bench: string, extra: string[] = []): string {
  const repo = makeRepo({ 'bench.sh': bench, 'src/v': '10' });
  if (user.uid !== 0) chownTree(repo);
  const r = engineAs(user, 'init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', ...(extra.length ? extra : ['--repeats', '1'])], repo);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return repo;
}

// Each attempt's stderr is kept in the scratch area (writable); a success is recorded as WROTE.
const ATTEMPTS = `S=${EXP}/scratch
attempt() { if (eval "$1") 2>>"$S/errors"; then echo "WROTE: $1" >> "$S/errors"; fi; }
echo "$(id -u) $(id -g)" > "$S/ids"
attempt "echo 'echo METRIC score=0' >> bench.sh"
attempt "echo x >> ${EXP}/ledger.jsonl"
attempt "echo x > .autoloop/new-file"
attempt "mount -o remount,rw .autoloop"
attempt "mount -o remount,bind,rw bench.sh"
attempt "umount .autoloop"
attempt "umount -l bench.sh"
attempt "unshare --user --map-root-user --mount sh -c 'mount -o remount,bind,rw .autoloop || umount .autoloop'"
attempt "echo x >> bench.sh"
echo built > build.out
echo METRIC score=$(cat src/v)
`;

const record = (repo: string) => JSON.parse(read(repo, `${EXP}/runs/r0001/result.json`)) as { containment?: string };

describe.skipIf(!isRoot || !hasSetpriv)('readonly containment for a user who is not root', { timeout: 900_000 }, () => {
  for (const make of [userNobody, userRoot]) {
    it(`${make.name.slice(4).toLowerCase()}: the judges and .autoloop/ are read-only, remount and umount fail, the benchmark sees its real ids`, () => {
      const user = make();
      const repo = repoOf(user, ATTEMPTS);
      const r = engineAs(user, 'run-experiment', ['--json'], repo);
      expect(r.json, r.stderr).toMatchObject({ status: 'ok', primary: 10 });
      expect(record(repo).containment).toBe('readonly');
      const errors = read(repo, `${EXP}/scratch/errors`);
      expect(errors.split('\n').filter((l) => l.startsWith('WROTE'))).toEqual([]);
      expect(errors.match(/Read-only file system/g)?.length).toBeGreaterThanOrEqual(4);
      expect(read(repo, `${EXP}/scratch/ids`)).toBe(`${user.uid} ${user.uid}\n`);
      expect(read(repo, 'bench.sh')).toBe(ATTEMPTS);
      expect(read(repo, 'build.out')).toBe('built\n'); // the tree it runs in stays writable
      expect(fs.existsSync(path.join(repo, '.autoloop/new-file'))).toBe(false);
      expect(engineAs(user, 'status', ['--json'], repo).json?.containment).toBe('readonly');
      // The probe's answer is remembered in the user's own HOME.
      const cache = JSON.parse(read(user.home, '.autoloop/containment.json')) as { mode: string; mapIds: boolean };
      expect(cache).toMatchObject({ mode: 'pidns', mapIds: user.uid !== 0 });
    });
  }

  it('an unshare without --map-user: the runs fall back to pidns, said once in the log; no sample fails', () => {
    const user = userNobody();
    const bench = 'echo "$(id -u)" >> ids\necho METRIC score=$(cat src/v)\n';
    const repo = repoOf(user, bench, ['--repeats', '3']);
    const fault = { AUTOLOOP_FAULT_AT: 'unshare-map-user' };
    const r = engineAs(user, 'run-experiment', ['--json'], repo, fault);
    expect(r.json, r.stderr).toMatchObject({ status: 'ok', primary: 10 });
    expect(record(repo).containment).toBe('pidns');
    expect(read(repo, 'ids')).toBe(`${NOBODY}\n`.repeat(3));
    const log = read(repo, `${EXP}/runs/r0001/output.log`);
    expect(log.match(/--map-user \(util-linux 2\.38 or later\) for a user who is not root; the run goes on without it/g)).toHaveLength(1);
    // The fault's answer is never remembered for the machine; status says what is in force.
    expect(fs.existsSync(path.join(user.home, '.autoloop/containment.json'))).toBe(false);
    expect(engineAs(user, 'status', ['--json'], repo, fault).json?.containment).toBe('pidns');
    expect(engineAs(user, 'status', [], repo, fault).stdout).toMatch(/containment: PID namespace .*; not the read-only judges: for a user who is not root .* util-linux 2\.38 or later/);
    // Demanded, it is refused with that reason instead.
    const forced = engineAs(user, 'run-experiment', ['--json'], repoOf(user, bench), { ...fault, AUTOLOOP_CONTAINMENT: 'readonly' });
    expect(forced.json?.status, forced.stderr).not.toBe('ok');
    expect(JSON.stringify(forced.json)).toMatch(/AUTOLOOP_CONTAINMENT=readonly but the read-only setup needs unshare's --map-user/);
  });

  it('where user namespaces are forbidden, status says so and names the sysctls', () => {
    const user = userNobody();
    const repo = repoOf(user, 'echo METRIC score=$(cat src/v)\n');
    // An unshare that fails as a kernel without unprivileged user namespaces makes it fail.
    const bin = tmpDir('autoloop-nr-bin-');
    fs.writeFileSync(path.join(bin, 'unshare'), '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n', { mode: 0o755 });
    chownTree(bin);
    const env = { PATH: `${bin}:${process.env.PATH ?? ''}` };
    const st = engineAs(user, 'status', [], repo, env);
    expect(st.stdout).toMatch(/containment: process group .*; not the read-only judges: this machine allows no unprivileged user namespace \(see the sysctls user\.max_user_namespaces/);
    expect(engineAs(user, 'status', [], repo, { ...env, AUTOLOOP_CONTAINMENT: 'group' }).stdout).not.toMatch(/not the read-only judges/);
  });
});
