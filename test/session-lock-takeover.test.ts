// Two writers taking over the same stale session.json.lock (scripts/lib/session-lock.ts): the one held
// off the CPU right after judging the lock stale (AUTOLOOP_STOP_AT) must not take the lock the other
// took over meanwhile. Real processes in a real directory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commitSessionLock, releaseSessionLock, sessionLockPath, takeSessionLock } from '../scripts/lib/session-lock.ts';
import { PROJECT, cleanupTmp, moduleUrl, tmpDir } from './helpers/repo.ts';
import { waitFor } from './helpers/engine.ts';

afterAll(cleanupTmp);

const SESSION_LOCK = moduleUrl('scripts/lib/session-lock.ts');

const stopped = (pid: number): boolean => {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] === 'T';
  } catch {
    return false;
  }
};

function exited(child: ChildProcess): Promise<string> {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', () => resolve(out)));
}

/** A pid no process has now: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

describe('session lock takeover', () => {
  it('of one stale lock by two writers at once: only one holds it', async () => {
    const dir = tmpDir();
    const session = path.join(dir, 'session.json');
    fs.writeFileSync(session, '{}\n');
    const lock = sessionLockPath(session);
    fs.writeFileSync(lock, `${deadPid()}\n`);
    const code = `
      const { takeSessionLock, commitSessionLock } = await import(${JSON.stringify(SESSION_LOCK)});
      const l = takeSessionLock(${JSON.stringify(session)}, 1500);
      if (l) commitSessionLock(l, '{"writer":"late"}\\n');
      process.stdout.write(l ? 'took\\n' : 'none\\n');
    `;
    const late = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: PROJECT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AUTOLOOP_STOP_AT: 'session-lock:stale-seen' },
    });
    const done = exited(late);
    await waitFor(() => stopped(late.pid!), 120_000);
    // The late writer judged the lock stale and is off the CPU: this writer takes it over meanwhile.
    const mine = takeSessionLock(session);
    expect(mine).not.toBeNull();
    late.kill('SIGCONT');
    const out = await done;
    // It moved this writer's fresh lock, saw it was not the stale one, and put it back.
    expect(out.trim()).toBe('none');
    expect(fs.readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
    commitSessionLock(mine!, '{"writer":"first"}\n');
    expect(fs.readFileSync(session, 'utf8')).toBe('{"writer":"first"}\n');
    expect(fs.readdirSync(dir)).toEqual(['session.json']);
  });

  it('a lock released twice (after a failed commit) never removes the next holder\'s lock', () => {
    const dir = tmpDir();
    const session = path.join(dir, 'session.json');
    const first = takeSessionLock(session)!;
    commitSessionLock(first, '{}\n');
    const second = takeSessionLock(session)!;
    expect(second).not.toBeNull();
    releaseSessionLock(first);
    expect(fs.existsSync(sessionLockPath(session))).toBe(true);
    releaseSessionLock(second);
    expect(fs.existsSync(sessionLockPath(session))).toBe(false);
  });
});
