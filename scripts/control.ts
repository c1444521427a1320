// control: the user's levers on a loop.
//   stop     pause the loop (the hooks stop pushing; runs refuse) — history kept
//   resume   continue a stopped or health-paused loop
//   explain  the state, why it is so, and the next action
//   repair   kill what survived a run, complete a half-finished log, rebuild the state cache
//   clear    deactivate autoloop in this repository (hooks go quiet); history kept
import fs from 'node:fs';
import { z } from 'zod';
import { CommonFlags, emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import {
  currentTermination,
  event,
  findRoot,
  openExperiment,
  publishActive,
  reconcile,
  refresh,
  resolveSlug,
  withLock,
  type Experiment,
} from './lib/experiment.ts';
import { openWorkspace } from './lib/workspace.ts';
import { runnerOf } from './lib/runners/index.ts';
import { RunHandle } from './lib/schema.ts';
import { pidAlive } from './lib/procs.ts';
import { readJsonOrNull } from './lib/fsx.ts';
import { repoPaths } from './lib/paths.ts';
import { emptyState, loopState } from './lib/reduce.ts';
import { UsageError } from './lib/errors.ts';
import { bestLine, countsLine, healthLine, progressLine, recentLines } from './lib/summary.ts';

const OPTIONS = { experiment: { type: 'string' }, reason: { type: 'string' } } as const;
const Flags = z.object({
  ...CommonFlags,
  experiment: z.string().optional(),
  reason: z.string().optional(),
});
const COMMANDS = ['stop', 'resume', 'explain', 'repair', 'clear'] as const;
type Command = (typeof COMMANDS)[number];

function explain(exp: Experiment): { data: Record<string, unknown>; text: string } {
  const t = currentTermination(exp);
  const s = exp.state;
  const loop = loopState(s, t);
  const why =
    loop === 'stopped' ? 'stopped by the user (control.mjs resume to continue)'
    : loop === 'terminated' ? t.message
    : loop === 'paused' ? `paused by health: ${s.health.reason}`
    : `active: ${s.health.reason}`;
  const next = loop === 'terminated' ? 'run /autoloop:chain (report, follow-up or finalize)' : loop === 'active' ? s.health.next_action : 'control.mjs resume, after reading why it stopped';
  const unclean = fs.existsSync(exp.paths.unclean);
  const text = [
    `experiment ${exp.paths.slug}: loop ${loop}`,
    `why: ${why}`,
    bestLine(exp),
    countsLine(exp),
    healthLine(exp),
    progressLine(t),
    unclean ? 'UNCLEAN: processes of a run survived; control.mjs repair' : '',
    s.pending ? `pending: ${s.pending.action} of ${s.pending.run_id} (the next engine call completes it)` : '',
    ...recentLines(exp, 3),
    `next: ${next}`,
  ].filter(Boolean);
  return { data: { experiment: exp.paths.slug, loop, why, next_action: next, health: s.health, termination: t, unclean, pending: s.pending }, text: text.join('\n') };
}

main('control', async (argv) => {
  const { values: f, positionals } = parseFlags(argv, OPTIONS, Flags, { positionals: true });
  const cmd = positionals[0] as Command | undefined;
  if (f.help || !cmd) {
    process.stdout.write(`usage: control ${COMMANDS.join('|')} [--experiment SLUG] [--reason TEXT] [--cwd DIR] [--json]\n`);
    return f.help ? 0 : 2;
  }
  if (!COMMANDS.includes(cmd)) throw new UsageError(`unknown command "${cmd}" (expected ${COMMANDS.join(', ')})`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const root = findRoot(resolveCwd(f.cwd));
  const exp = openExperiment(root, resolveSlug(root, f.experiment));

  if (cmd === 'explain') {
    const { data, text } = explain(exp);
    return emit(f.json, data, text);
  }
  let message = '';
  await withLock(exp, `control ${cmd}`, async () => {
    switch (cmd) {
      case 'stop':
        if (exp.state.stopped) message = 'already stopped';
        else {
          event(exp, 'stop', { reason: f.reason ?? 'stopped by the user' });
          message = 'loop stopped: the hooks no longer keep sessions going; control.mjs resume continues it';
        }
        break;
      case 'resume': {
        if (!exp.state.stopped && exp.state.health.health !== 'paused') message = 'the loop is not stopped';
        else {
          event(exp, 'resume', { reason: f.reason ?? 'resumed by the user' });
          message = 'loop resumed';
        }
        const t = currentTermination(exp);
        if (t.terminate) message += `; but it is terminated (${t.message}): raise the budget in config.yaml or chain`;
        break;
      }
      case 'repair': {
        const done: string[] = [];
        const raw = readJsonOrNull(exp.paths.unclean) as { pgid?: number; handle?: unknown; pids?: (number | string)[] } | null;
        if (raw || fs.existsSync(exp.paths.unclean)) {
          const pids = (raw?.pids ?? []).filter((p): p is number => typeof p === 'number');
          const parsed = RunHandle.safeParse(raw?.handle);
          const handle = parsed.success ? parsed.data : raw?.pgid ? ({ runner: 'local', pgid: raw.pgid, start: null } as const) : null;
          for (const pid of pids) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              /* already gone */
            }
          }
          const left = handle ? await runnerOf(handle).cancel(handle, 1) : [];
          const alive = pids.filter((p) => pidAlive(p));
          if (left.length || alive.length) throw new UsageError(`processes still alive after SIGKILL: ${[...left, ...alive].join(', ')} (check them by hand)`);
          fs.rmSync(exp.paths.unclean, { force: true });
          event(exp, 'cleared', { pids });
          done.push(`killed ${pids.length} surviving process(es)`);
        }
        // Rebuild the derived state from the ledger, then finish any half-done log.
        exp.state = emptyState();
        refresh(exp);
        const ws = await openWorkspace(root, exp.paths, exp.config);
        done.push(...(await reconcile(exp, ws)), 'state rebuilt from the ledger');
        message = done.join('; ');
        break;
      }
      case 'clear': {
        const repo = repoPaths(root);
        fs.rmSync(repo.active, { force: true });
        fs.rmSync(repo.session, { force: true });
        message = 'autoloop deactivated in this repository (hooks are quiet); history is kept under .autoloop/';
        return;
      }
    }
    publishActive(exp, currentTermination(exp));
  });
  emit(f.json, { command: cmd, message, loop: fs.existsSync(repoPaths(root).active) ? loopState(exp.state, currentTermination(exp)) : 'cleared' }, message);
});
