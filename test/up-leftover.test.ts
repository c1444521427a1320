// A supervisor killed outright leaves its claude session running; a later `up`
// must not start a second claude on the same loop beside it. The bundled `up`
// on a real repository, with a real live process standing as the left session
// (up refuses before it starts any claude: --claude names no program, so a
// launch would show as "could not run claude").
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { engine, initValue, valueRepo } from './helpers/engine.ts';
import { forgetSession, leftoverSession, noteSession, sessionFile } from '../scripts/lib/supervisor/left-session.ts';
import { pidAlive } from '../scripts/lib/procs.ts';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function liveProcess(): number {
  const c = spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(c);
  return c.pid!;
}

function loopRepo(): string {
  const repo = valueRepo();
  expect(initValue(repo).code).toBe(0);
  return repo;
}

describe('up and a session an earlier up left running', () => {
  it('refuses to start a second claude while the left one lives, with one line naming it; starts once it is gone', async () => {
    const repo = loopRepo();
    const pid = liveProcess();
    noteSession(repo, pid);
    expect(leftoverSession(repo)).toBe(pid);

    const refused = engine('up', ['--claude', path.join(repo, 'no-such-claude')], repo);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      `up: claude (pid ${pid}), started by an earlier up that was killed, is still running this loop; end it (kill -- -${pid}) or let it finish, then up again`,
    );
    expect(pidAlive(pid)).toBe(true); // left alone: it is not ours to end
    expect(fs.existsSync(path.join(repo, '.autoloop', 'up.lock'))).toBe(false);

    children.splice(0).forEach((c) => c.kill('SIGKILL'));
    while (pidAlive(pid)) await new Promise((r) => setTimeout(r, 50));
    const started = engine('up', ['--claude', path.join(repo, 'no-such-claude')], repo);
    expect(started.stderr).toContain('could not run claude');
    expect(started.code).toBe(1);
    expect(fs.existsSync(sessionFile(repo))).toBe(false);
  });

  it('a pid now running something else, a torn file, or no start time is no left session', () => {
    const repo = loopRepo();
    const pid = liveProcess();
    fs.writeFileSync(sessionFile(repo), JSON.stringify({ pid, start: '1' }));
    expect(leftoverSession(repo)).toBeNull();
    fs.writeFileSync(sessionFile(repo), JSON.stringify({ pid, start: null }));
    expect(leftoverSession(repo)).toBeNull();
    fs.writeFileSync(sessionFile(repo), '{"pid":');
    expect(leftoverSession(repo)).toBeNull();
    noteSession(repo, pid);
    expect(leftoverSession(repo)).toBe(pid);
    forgetSession(repo);
    expect(leftoverSession(repo)).toBeNull();
  });
});
