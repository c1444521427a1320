// Run the real engine as a user who is not root (`nobody`, through setpriv),
// as users run it: the suite runs as root, which ignores permission bits and
// so hides every place the engine would need them. The user gets its own HOME,
// repositories it owns and a copy of the bundles it can read. The same calls
// run as root (the suite's user) for a comparison of the two.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { bundle, fromTemplate, jsonOf, ROOT, type EngineResult } from './engine.ts';
import { tmpDir } from './tmp.ts';

export const NOBODY = 65534;
export const isRoot = process.getuid?.() === 0;
export const hasSetpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;

export function chownTree(dir: string, uid: number): void {
  const r = spawnSync('chown', ['-R', `${uid}:${uid}`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chown ${dir}: ${r.stderr}`);
}

let nobodyDist: string | null = null;
/** The bundles where `nobody` can read them (the test build's folder is root's alone), owned by it (the loader writes its code cache beside them). */
function distFor(uid: number): string {
  if (uid === 0) return path.dirname(bundle('status'));
  if (nobodyDist) return nobodyDist;
  nobodyDist = tmpDir('autoloop-nr-dist-');
  // Dereferenced: the entry points are symlinks into the root-only folder.
  fs.cpSync(path.dirname(bundle('status')), nobodyDist, { recursive: true, dereference: true });
  chownTree(nobodyDist, NOBODY);
  // Writable by any user of a test (two users on a shared repository): the loader's code cache goes beside the bundles.
  const r = spawnSync('chmod', ['-R', 'a+rwX', nobodyDist], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chmod ${nobodyDist}: ${r.stderr}`);
  return nobodyDist;
}

export interface User {
  name: string;
  uid: number;
  home: string;
  /** An engine bundle (name.mjs, or a file such as hooks.cjs) on a repository, as this user. */
  engine: (name: string, args: string[], repo: string, opts?: { env?: Record<string, string>; input?: string }) => EngineResult;
  /** Where this user's copy of an engine bundle is (a script of the test's may call it). */
  engineEntry: (name: string) => string;
  /** The same, not waited for (a run to kill). */
  engineAsync: (name: string, args: string[], repo: string) => ChildProcess;
  /** `sh -c script` in dir as this user (the user's own edits, with its permissions). */
  sh: (dir: string, script: string) => string;
  /** A fresh copy of template `key` (built once per file by build), owned by this user. */
  repo: (key: string, build: () => string) => string;
}

/** A user of a shared repository: its primary group (the one it shares) and its umask. */
export interface Membership {
  gid: number;
  umask: string;
}

function argvOf(uid: number, args: string[], member?: Membership): { file: string; args: string[] } {
  if (uid === 0) return { file: args[0] as string, args: args.slice(1) };
  if (member) {
    const ids = ['--reuid', String(uid), '--regid', String(member.gid), '--groups', String(member.gid)];
    return { file: 'setpriv', args: [...ids, '--', 'sh', '-c', `umask ${member.umask}; exec "$@"`, 'sh', ...args] };
  }
  return { file: 'setpriv', args: ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', '--', ...args] };
}

function entry(uid: number, name: string): string {
  const file = name.includes('.') ? name : `${name}.mjs`;
  const built = path.join(distFor(uid), file);
  if (fs.existsSync(built)) return built;
  // The hooks are not in the test build: the committed bundle, as in test/hooks.test.ts (a copy the user can read).
  const committed = path.join(ROOT, 'dist', file);
  if (uid === 0) return committed;
  // With the parts it loads beside it (hooks-all.cjs and the others).
  const stem = file.replace(/\.[^.]*$/, '');
  for (const f of fs.readdirSync(path.dirname(committed))) if (f.startsWith(stem)) fs.copyFileSync(path.join(path.dirname(committed), f), path.join(distFor(uid), f));
  chownTree(distFor(uid), uid);
  return built;
}

/** A user (`uid`, not necessarily in /etc/passwd); with `member`, one in that group with that umask. */
export function makeUser(uid: number, member?: Membership): User {
  const home = tmpDir('autoloop-nr-home-');
  if (uid !== 0) chownTree(home, uid);
  const argv = (u: number, args: string[]) => argvOf(u, args, member);
  const env = (extra: Record<string, string> = {}) => ({ ...process.env, HOME: home, AUTOLOOP_DEBUG: '', ...extra });
  return {
    name: uid === 0 ? 'root' : uid === NOBODY ? 'nobody' : `uid ${uid}`,
    uid,
    home,
    engine: (name, args, repo, opts = {}) => {
      const cmd = argv(uid, [process.execPath, entry(uid, name), ...args, ...(name.includes('.') ? [] : ['--cwd', repo])]);
      const r = spawnSync(cmd.file, cmd.args, { cwd: repo, encoding: 'utf8', env: env(opts.env), input: opts.input, timeout: 600_000 });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: jsonOf(r.stdout) };
    },
    engineEntry: (name) => entry(uid, name),
    engineAsync: (name, args, repo) => {
      const cmd = argv(uid, [process.execPath, entry(uid, name), ...args, '--cwd', repo]);
      return spawn(cmd.file, cmd.args, { env: env(), stdio: 'ignore' });
    },
    sh: (dir, script) => {
      const cmd = argv(uid, ['sh', '-c', script]);
      const r = spawnSync(cmd.file, cmd.args, { cwd: dir, encoding: 'utf8', env: env() });
      if (r.status !== 0) throw new Error(`sh -c ${script}: ${r.stderr}`);
      return r.stdout;
    },
    repo: (key, build) => {
      const dir = fromTemplate(key, build);
      if (uid !== 0) chownTree(dir, uid);
      return dir;
    },
  };
}
