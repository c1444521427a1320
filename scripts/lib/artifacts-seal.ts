// The best's artifacts around a command of the code under test. Its copies
// (runs/<best>/artifacts/) and the run record naming them lie in `.autoloop/`,
// which a command can write without the read-only containment: a discard then
// put a rewritten copy into the tree as the best's, and a name added to the
// record (with a planted copy) had it write any file there, the scope's
// included. The record is held by its bytes and put back; each copy by its
// stat signature (a checkpoint of gigabytes is not read twice a command):
// one changed is moved aside, so the best has no copies to restore rather
// than forged ones. A copy gone is no forgery (another candidate's log prunes
// an older best's): runArtifacts then has none.
import fs from 'node:fs';
import path from 'node:path';
import type { ExperimentPaths } from './paths.ts';
import { artifactsDir, runDir } from './paths.ts';
import { RunRecord } from './schema.ts';
import { readOrNull, statSigOf } from './stat-sig.ts';
import { writeFileAtomic } from './fsx.ts';
import { normalizeRel } from './scope.ts';

export interface ArtifactSeal {
  run: string;
  record: string;
  bytes: Buffer;
  copies: Map<string, string>;
}

/** The copies a record names (absolute), from its bytes; none when it does not parse. */
function copiesOf(paths: ExperimentPaths, run: string, bytes: Buffer): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return [];
  }
  const r = RunRecord.safeParse(doc);
  const files = r.success ? (r.data.artifacts?.files ?? []) : [];
  return files.flatMap((f) => {
    const rel = normalizeRel(f);
    return rel === null ? [] : [path.join(artifactsDir(paths, run), rel)];
  });
}

/** The best run's record and copies as they are now, or null when there is no best or no record. */
export function sealBestArtifacts(paths: ExperimentPaths, bestRun: string | null | undefined): ArtifactSeal | null {
  if (!bestRun) return null;
  const record = runDir(paths, bestRun).result;
  const bytes = readOrNull(record);
  if (!bytes) return null;
  const copies = new Map<string, string>();
  for (const abs of copiesOf(paths, bestRun, bytes)) copies.set(abs, statSigOf(abs));
  return { run: bestRun, record, bytes, copies };
}

/**
 * What the command changed of the sealed record and copies: the record put back, a
 * changed copy moved into `asideTo`. Names relative to `root`, each saying what was done.
 */
export function breakArtifactSeal(s: ArtifactSeal | null, root: string, asideTo: string): string[] {
  if (!s) return [];
  const out: string[] = [];
  const now = readOrNull(s.record);
  if (now !== null && !now.equals(s.bytes)) {
    writeFileAtomic(s.record, s.bytes);
    out.push(`${path.relative(root, s.record)} (the best's run record: put back)`);
  }
  for (const [abs, before] of s.copies) {
    const sig = statSigOf(abs);
    if (sig === before || sig === 'absent') continue;
    const to = path.join(asideTo, path.relative(path.dirname(s.record), abs));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(abs, to);
    out.push(`${path.relative(root, abs)} (a copy of the best's artifacts: moved aside, never restored)`);
  }
  return out;
}
