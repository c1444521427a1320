// The guardian process (runners/guardian.ts says why it exists): reads the
// engine's lines until the pipe ends, then cancels whatever work is still open.
import { runnerOf } from '../runners/index.ts';
import type { GuardianLine } from '../runners/guardian.ts';
import type { RunHandle } from '../runners/types.ts';

const isText = (v: unknown): v is string => typeof v === 'string';

/** A handle as the engine wrote it, checked by hand (the bundle stays small: it starts beside a run). */
export function parseHandle(v: unknown): RunHandle | null {
  if (typeof v !== 'object' || v === null) return null;
  const h = v as Record<string, unknown>;
  if (!isText(h.token) || !h.token) return null;
  if (h.runner === 'local' && Number.isInteger(h.pgid) && (h.start === null || isText(h.start))) {
    return { runner: 'local', pgid: h.pgid as number, start: h.start as string | null, token: h.token };
  }
  if (h.runner === 'slurm' && (h.job_id === null || isText(h.job_id))) return { runner: 'slurm', job_id: h.job_id as string | null, token: h.token };
  return null;
}

/** The open runs after one line (token → handle and grace); a line that makes no sense changes nothing. */
export function applyLine(open: Map<string, { handle: RunHandle; grace: number }>, text: string): void {
  let line: GuardianLine;
  try {
    line = JSON.parse(text) as GuardianLine;
  } catch {
    return;
  }
  if (typeof line !== 'object' || line === null) return;
  if ('done' in line && isText(line.done)) open.delete(line.done);
  if (!('watch' in line)) return;
  const handle = parseHandle(line.watch);
  const grace = Number.isFinite(line.grace) && line.grace >= 0 ? line.grace : 1;
  if (handle?.token) open.set(handle.token, { handle, grace });
}

/** Wait for the engine's end (its pipe closes), then cancel what it left open, all at once. */
export async function guardianCommand(): Promise<void> {
  const open = new Map<string, { handle: RunHandle; grace: number }>();
  let rest = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin as AsyncIterable<string>) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) applyLine(open, l);
  }
  // A line cut by the engine's death is no handle; what it would have said is in the run record.
  await Promise.all([...open.values()].map(({ handle, grace }) => runnerOf(handle).cancel(handle, grace).catch(() => [])));
}
