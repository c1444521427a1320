// A file outside the scope that the code under test changed while it was
// judged (a script the benchmark sources, a module it imports) makes that run
// invalid; left as it is, it would judge every later run. So the bytes the
// run left are recorded, and no run of the segment is measured while one such
// file still holds them: the user puts it back (or init-experiment adopts it,
// a new segment). Content, not stat: a `touch` is no repair.
import fs from 'node:fs';
import path from 'node:path';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import { sha256File } from './integrity.ts';
import { readJsonOrNull, writeJsonAtomic } from './fsx.ts';
import type { ExperimentPaths } from './paths.ts';

const Taint = lazySchema(() => z.object({
  segment: z.int(),
  run: z.string(),
  /** path (relative to the repository) → sha256 and exec bit of what the run left, or "missing". */
  files: z.record(z.string(), z.string()),
}));
type Taint = z.infer<typeof Taint>;

const fileOf = (paths: ExperimentPaths) => path.join(paths.dir, 'outside-taint.json');
/** Bytes and exec bit (a chmod -x of a script it runs spoils it as well). */
function hashNow(root: string, rel: string): string {
  const abs = path.join(root, rel);
  const hash = sha256File(abs);
  if (hash === null) return 'missing';
  try {
    return `${hash}:${(fs.statSync(abs).mode & 0o111) !== 0 ? 'x' : '-'}`;
  } catch {
    return 'missing';
  }
}

/** Record what run `run` left in these outside files (added to an earlier record of the segment). */
export function recordTaint(paths: ExperimentPaths, root: string, segment: number, run: string, files: readonly string[]): void {
  if (!files.length) return;
  const was = load(paths);
  const kept = was && was.segment === segment ? was.files : {};
  const next: Taint = { segment, run, files: { ...kept, ...Object.fromEntries(files.map((f) => [f, hashNow(root, f)])) } };
  writeJsonAtomic(fileOf(paths), next);
}

/** Why no run may be measured now, or null (files put back are forgotten; another segment adopted them all). */
export function taintProblem(paths: ExperimentPaths, root: string, segment: number, repairable = false): string | null {
  const t = load(paths);
  if (!t) return null;
  const still = t.segment === segment ? Object.keys(t.files).filter((f) => hashNow(root, f) === t.files[f]) : [];
  if (!still.length) {
    fs.rmSync(fileOf(paths), { force: true });
    return null;
  }
  if (still.length < Object.keys(t.files).length) writeJsonAtomic(fileOf(paths), { ...t, files: Object.fromEntries(still.map((f) => [f, t.files[f]])) });
  const names = still.slice(0, 3).join(', ') + (still.length > 3 ? ` (+${still.length - 3} more)` : '');
  return `${names} outside the scope still hold${still.length === 1 ? 's' : ''} what the code under test of ${t.run} wrote there (a later benchmark may read it): ${repairable ? 'control repair puts it back from the last keep (a copy goes to rescued/), or put it back yourself' : 'put it back as it was'}, or init-experiment to adopt it`;
}

function load(paths: ExperimentPaths): Taint | null {
  const parsed = Taint.safeParse(readJsonOrNull(fileOf(paths)));
  return parsed.success ? parsed.data : null;
}

/** The files of the segment's taint that still hold what the run wrote (what control repair puts back). */
export function taintedNow(paths: ExperimentPaths, root: string, segment: number): { run: string; files: string[] } | null {
  const t = load(paths);
  if (!t || t.segment !== segment) return null;
  const files = Object.keys(t.files).filter((f) => hashNow(root, f) === t.files[f]);
  return files.length ? { run: t.run, files } : null;
}

/**
 * Forget these files (put back from the last keep: they are what the best was
 * measured with, even where that is what the run had left, e.g. a user's edit
 * the benchmark undid).
 */
export function forgetTaint(paths: ExperimentPaths, files: readonly string[]): void {
  const t = load(paths);
  if (!t) return;
  const left = Object.fromEntries(Object.entries(t.files).filter(([f]) => !files.includes(f)));
  if (Object.keys(left).length) writeJsonAtomic(fileOf(paths), { ...t, files: left });
  else fs.rmSync(fileOf(paths), { force: true });
}
