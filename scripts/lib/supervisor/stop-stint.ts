// A relaunch by up starts a new stint for the Stop hook. The hook counts its
// continuations per conversation (session.json), and up resumes the loop's own
// conversation by id: without this, a loop past stop_hook.max_blocks would be
// let go at every stop of every relaunch, one turn per relaunch under up's
// hourly cap, for the rest of the night. up's backoff and hourly cap bound
// the relaunches themselves.
import fs from 'node:fs';
import { repoPaths } from '../paths.ts';
import { commitSessionLock, releaseSessionLock, takeSessionLock } from '../session-lock.ts';

/** Zero the Stop hook's counters when `sessionId` owns the loop; anything unreadable is left to the hooks. */
export function freshStopStint(root: string, sessionId: string): void {
  const file = repoPaths(root).session;
  const fresh = (): Record<string, unknown> | null => {
    let session: unknown;
    try {
      session = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      return null;
    }
    if (typeof session !== 'object' || session === null || Array.isArray(session)) return null;
    const s = session as Record<string, unknown>;
    if (s.owner_session !== sessionId || (s.blocks === 0 && s.idle_blocks === 0)) return null;
    return { ...s, blocks: 0, idle_blocks: 0 };
  };
  if (!fresh()) return;
  // Under the hooks' lock (session-lock.ts), decided again on what is there: a handover a hook
  // wrote meanwhile stays. A lock not taken: the hook keeps its count, as for a read-only .autoloop.
  const lock = takeSessionLock(file);
  if (!lock) return;
  const next = fresh();
  if (!next) return releaseSessionLock(lock);
  try {
    commitSessionLock(lock, `${JSON.stringify(next, null, 2)}\n`);
  } catch {
    // A read-only .autoloop: the hook keeps its count, as before.
  }
}
