// The judge cannot change while it judges. Around every command the code
// under test runs (a benchmark sample, the checks), the engine seals what
// decides the verdict and what it has already recorded: the judged config
// (and its parsed copy), the ledger, the state cache, the workspace record, the segment's
// environment, the judges' manifest, active.json, and the engine's own files.
// Anything that differs afterwards was written by the code under test (the
// engine holds the repository lock and writes nothing while it waits): the
// run is invalid, and the engine's files are put back from the sealed bytes.
// The engine's own program files can only be detected, not restored.
import fs from 'node:fs';
import path from 'node:path';
import { repoPaths, type ExperimentPaths } from './paths.ts';
import { workspaceFile } from './workspace-base.ts';
import { envFile } from './bench-env.ts';
import { writeFileAtomic } from './fsx.ts';
import { parsedConfigFile } from './config.ts';

/** A file's bytes (null = absent) for the engine's state; a stat signature for program files. */
export interface Seal {
  data: Map<string, Buffer | null>;
  stats: Map<string, string>;
}

export function statefulFiles(exp: ExperimentPaths, root: string): string[] {
  const repo = repoPaths(root);
  return [
    exp.ledger,
    exp.config,
    parsedConfigFile(exp.config),
    exp.state,
    workspaceFile(exp),
    envFile(exp),
    path.join(exp.judges, 'manifest.json'),
    repo.active,
    repo.chain,
  ];
}

/** The engine's own program: the bundles (or sources) next to the running entry point. */
export function engineFiles(): string[] {
  const entry = process.argv[1];
  if (!entry) return [];
  let dir: string;
  try {
    dir = path.dirname(fs.realpathSync(entry));
  } catch {
    return [];
  }
  try {
    return fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.mjs') || n.endsWith('.ts'))
      .map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

function read(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch {
    return null;
  }
}

/** size, mtime, ctime, inode: ctime cannot be set back from user space. */
function statSig(file: string): string {
  try {
    const st = fs.statSync(file, { bigint: true });
    return `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;
  } catch {
    return 'absent';
  }
}

/** Seal `files` by their bytes (default: all of the engine's state) and `extra` by their stat. */
export function seal(exp: ExperimentPaths, root: string, extra: readonly string[] = [], files: readonly string[] = statefulFiles(exp, root)): Seal {
  const data = new Map<string, Buffer | null>();
  for (const f of files) data.set(f, read(f));
  const stats = new Map<string, string>();
  for (const f of [...engineFiles(), ...extra]) stats.set(f, statSig(f));
  return { data, stats };
}

/** Names (relative to root) of sealed files that changed; the engine's state files are put back. */
export function breakSeal(s: Seal, root: string): string[] {
  const changed: string[] = [];
  for (const [file, before] of s.data) {
    const now = read(file);
    if (before === null ? now === null : now !== null && before.equals(now)) continue;
    changed.push(path.relative(root, file));
    if (before === null) fs.rmSync(file, { force: true, recursive: true });
    else writeFileAtomic(file, before);
  }
  for (const [file, before] of s.stats) if (statSig(file) !== before) changed.push(path.relative(root, file) || file);
  return changed.sort();
}
