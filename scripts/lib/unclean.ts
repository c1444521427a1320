// unclean.json: the work of runs that outlived its kill, until `control repair`
// kills it; the next run refuses while the file exists. Parallel candidates can
// leave survivors at once, so a run's entry is merged into the file (the writer
// holds the ledger lock), never written over another run's: the top level keeps
// the shape it always had (the first run's id and handle, every pid with its
// start time) and `runs` lists each run with its own handle.
import fs from 'node:fs';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import { readJsonOrNull, writeJsonAtomic } from './fsx.ts';
import { RunHandle as RunHandleSchema } from './schema.ts';
import type { RunHandle } from './runners/types.ts';

// Built on first use: most calls find no unclean.json.
const Entry = lazySchema(() => z.object({
  run_id: z.optional(z.string()),
  pgid: z.optional(z.number()),
  handle: z.optional(z.unknown()),
  pids: z.optional(z.array(z.union([z.number(), z.string()]))),
  starts: z.optional(z.record(z.string(), z.string())),
  ts: z.optional(z.string()),
}));

export interface UncleanRun {
  run_id: string | null;
  handle: RunHandle | null;
  pids: (number | string)[];
  starts: Record<string, string>;
}

/** What unclean.json names, one entry per run; null when there is no file. A file that does not parse still counts (no run named). */
export function readUnclean(file: string): UncleanRun[] | null {
  const raw = readJsonOrNull(file);
  if (raw === null && !fs.existsSync(file)) return null;
  const top = Entry.safeParse(raw);
  if (!top.success) return [];
  const listed = raw !== null && typeof raw === 'object' && Array.isArray((raw as { runs?: unknown }).runs) ? (raw as { runs: unknown[] }).runs : [raw];
  const runs: UncleanRun[] = [];
  for (const r of listed) {
    const e = Entry.safeParse(r);
    if (e.success) runs.push(entryOf(e.data));
  }
  if (!runs.length) runs.push(entryOf(top.data));
  return runs;
}

function entryOf(e: z.infer<typeof Entry>): UncleanRun {
  const h = RunHandleSchema.safeParse(e.handle);
  const handle = h.success ? h.data : e.pgid ? ({ runner: 'local', pgid: e.pgid, start: null } as const) : null;
  return { run_id: e.run_id ?? null, handle, pids: e.pids ?? [], starts: e.starts ?? {} };
}

/** Add a run's survivors (replacing an earlier entry of the same run); the caller holds the ledger lock. */
export function recordUnclean(file: string, run: UncleanRun, ts: string): void {
  const runs = (readUnclean(file) ?? []).filter((r) => r.run_id !== run.run_id && (r.pids.length || r.handle));
  runs.push(run);
  const first = runs[0] as UncleanRun;
  const legacy = first.handle?.runner === 'local' ? { pgid: first.handle.pgid } : {};
  const entry = (r: UncleanRun) => ({ run_id: r.run_id ?? undefined, ...(r.handle ? { handle: r.handle } : {}), pids: r.pids, starts: r.starts });
  writeJsonAtomic(file, {
    run_id: first.run_id ?? undefined,
    ...legacy,
    ...(first.handle ? { handle: first.handle } : {}),
    pids: runs.flatMap((r) => r.pids),
    starts: Object.assign({}, ...runs.map((r) => r.starts)) as Record<string, string>,
    ts,
    ...(runs.length > 1 ? { runs: runs.map(entry) } : {}),
  });
}

/** The runs named, for a one-line message: "run r0003" or "runs r0003, r0004". */
export function uncleanRuns(runs: readonly UncleanRun[]): string {
  const ids = runs.map((r) => r.run_id).filter((x): x is string => x !== null);
  return ids.length > 1 ? `runs ${ids.join(', ')}` : `run ${ids[0] ?? '?'}`;
}
