// An `up` killed outright (SIGKILL: no handler runs) must take its claude
// session down with it, and whatever that session started in its group. The
// bundled `up` on a real repository, with a stand-in claude (a shell script
// that starts a long child and waits), killed once both are running.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { engineAsync, initValue, valueRepo, waitFor } from './helpers/engine.ts';
import { pidAlive } from '../scripts/lib/procs.ts';

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

function standInClaude(dir: string, pidFile: string): string {
  const file = path.join(dir, 'claude-stand-in');
  fs.writeFileSync(file, `#!/bin/sh\nsleep 600 &\necho "$$ $!" > '${pidFile}'\nwait\n`, { mode: 0o755 });
  return file;
}

/** A real up on a fresh loop, its stand-in claude and that claude's child both running. */
async function upWithSession(env: Record<string, string> = {}) {
  const repo = valueRepo();
  expect(initValue(repo).code).toBe(0);
  const dir = fs.mkdtempSync(path.join(path.dirname(repo), 'claude-'));
  const pidFile = path.join(dir, 'pids');
  const up = engineAsync('up', ['--claude', standInClaude(dir, pidFile)], repo, env);
  await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\n'));
  const pids = fs.readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
  started.push(...pids);
  expect(pids.every((p) => pidAlive(p))).toBe(true);
  return { up, pids };
}

describe('up killed outright', () => {
  it('SIGKILL of up ends its claude session and the processes the session started', async () => {
    const { up, pids } = await upWithSession();
    up.kill('SIGKILL');
    await waitFor(() => pids.every((p) => !pidAlive(p)));
    expect(pids.filter((p) => pidAlive(p))).toEqual([]);
  });

  it('without setpriv the session still starts as before, and SIGTERM of up still ends it all', async () => {
    const { up, pids } = await upWithSession({ AUTOLOOP_FAULT_AT: 'setpriv' });
    const exited = new Promise<number | null>((resolve) => up.on('exit', (code) => resolve(code)));
    up.kill('SIGTERM');
    expect(await exited).toBe(143);
    await waitFor(() => pids.every((p) => !pidAlive(p)));
    expect(pids.filter((p) => pidAlive(p))).toEqual([]);
  });
});
