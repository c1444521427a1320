// What is kept is what was measured. A run captures the content of the
// in-scope change before the benchmark (git: blobs in the object store); the
// capture is compared after the benchmark, after the checks and at log time,
// and a keep commits the captured content itself, so neither an edit made
// between run and log nor a crash in the middle of a log can put anything
// else on the experiment branch. Pure helpers, plus the one call that asks the
// workspace for a capture.
import { canonicalJson, sha256 } from './integrity.ts';
import type { MeasuredContent } from './schema.ts';
import type { Capture, Workspace } from './workspace-base.ts';

export function digestOf(files: Capture): string {
  return sha256(canonicalJson(files));
}

export function contentOf(files: Capture): MeasuredContent {
  return { digest: digestOf(files), files };
}

/** Paths whose content differs between two captures (a path missing from one counts as changed). */
export function drifted(before: Capture, after: Capture): string[] {
  const out: string[] = [];
  for (const p of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (canonicalJson(before[p] ?? 'absent') !== canonicalJson(after[p] ?? 'absent')) out.push(p);
  }
  return out.sort();
}

export interface Recheck {
  /** In-scope paths whose content is no longer what was measured (edited, created or deleted since). */
  drift: string[];
}

/**
 * Compare the in-scope change now with the measured one: every path that is
 * changed now or was measured must hold exactly the measured content (a path
 * back at the best, or changed only now, has drifted).
 */
export async function recheck(ws: Workspace, measured: MeasuredContent, now?: string[]): Promise<Recheck> {
  const changed = new Set(now ?? (await ws.changedInScope()));
  const paths = [...new Set([...Object.keys(measured.files), ...changed])].sort();
  const cap = await ws.capture(paths.filter((p) => changed.has(p)), { compareOnly: true });
  const drift = paths.filter((p) => {
    const cur = changed.has(p) ? (p in cap.files ? canonicalJson(cap.files[p]) : 'unkeepable') : 'unchanged';
    const exp = p in measured.files ? canonicalJson(measured.files[p]) : 'unchanged';
    return cur !== exp;
  });
  return { drift };
}

export function describeDrift(drift: string[], when: string): string {
  const names = drift.slice(0, 3).join(', ') + (drift.length > 3 ? ` (+${drift.length - 3} more)` : '');
  return `in-scope files changed ${when}: ${names}; what would be kept is not what was measured`;
}
