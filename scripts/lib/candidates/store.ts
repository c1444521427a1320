// Parallel candidates on disk: <exp>/candidates/<id>/candidate.json (what the
// engine knows of one candidate), its lock, and its worktree tree/. A
// candidate is one change: opened from the current best, measured, logged,
// then closed. Only reads and writes here; nothing about git or the ledger.
import fs from 'node:fs';
import path from 'node:path';
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import type { ExperimentPaths } from '../paths.ts';
import { readJsonOrNull, writeJsonAtomic } from '../fsx.ts';
import { ResultLine } from '../schema.ts';
import { UsageError } from '../errors.ts';

export const CANDIDATE_ID = /^c\d{1,6}$/;

export const Candidate = lazySchema(() => z.object({
  version: z.literal(1),
  id: z.string().check(z.regex(CANDIDATE_ID)),
  /** Absolute path of the candidate's worktree. */
  path: z.string(),
  /** The best commit the worktree stands on (moves when the change is rebased). */
  base: z.string(),
  opened_at: z.string(),
  /** open: in flight; closed: logged (or closed by hand), worktree gone. */
  status: z.enum(['open', 'closed']),
  /** The candidate's latest run, if any. */
  run_id: z._default(z.nullable(z.string()), null),
  /** A keep decided but not yet confirmed in the ledger (crash safety of the candidate log). */
  pending: z._default(z.nullable(ResultLine), null),
  closed_reason: z._default(z.nullable(z.string()), null),
}));
export type Candidate = z.infer<typeof Candidate>;

export interface CandidatePaths {
  dir: string;
  file: string;
  lock: string;
  tree: string;
}

export function candidatesDir(exp: ExperimentPaths): string {
  return path.join(exp.dir, 'candidates');
}

export function candidatePaths(exp: ExperimentPaths, id: string): CandidatePaths {
  const dir = path.join(candidatesDir(exp), id);
  return { dir, file: path.join(dir, 'candidate.json'), lock: path.join(dir, 'lock'), tree: path.join(dir, 'tree') };
}

export function readCandidate(exp: ExperimentPaths, id: string): Candidate | null {
  const r = Candidate.safeParse(readJsonOrNull(candidatePaths(exp, id).file));
  return r.success ? r.data : null;
}

/** The candidate named by --candidate; a wrong or closed one is the caller's mistake. */
export function openCandidate(exp: ExperimentPaths, id: string): Candidate {
  if (!CANDIDATE_ID.test(id)) throw new UsageError(`--candidate: "${id}" is not a candidate id (c1, c2, …)`);
  const c = readCandidate(exp, id);
  if (!c) throw new UsageError(`no candidate ${id} in experiment ${exp.slug} (candidate list shows the open ones)`);
  if (c.status !== 'open') throw new UsageError(`candidate ${id} is closed (${c.closed_reason ?? 'logged'}); start a new one with candidate start`);
  return c;
}

export function saveCandidate(exp: ExperimentPaths, c: Candidate): void {
  writeJsonAtomic(candidatePaths(exp, c.id).file, Candidate.parse(c));
}

/** Every candidate ever opened in this experiment, by number. */
export function listCandidates(exp: ExperimentPaths): Candidate[] {
  let names: string[];
  try {
    names = fs.readdirSync(candidatesDir(exp));
  } catch {
    return [];
  }
  return names
    .filter((n) => CANDIDATE_ID.test(n))
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
    .map((n) => readCandidate(exp, n))
    .filter((c): c is Candidate => c !== null);
}

export function openCandidates(exp: ExperimentPaths): Candidate[] {
  return listCandidates(exp).filter((c) => c.status === 'open');
}

/** The next unused id (call under the ledger lock, which serialises openings). */
export function nextCandidateId(exp: ExperimentPaths): string {
  let n = 0;
  try {
    for (const name of fs.readdirSync(candidatesDir(exp))) if (CANDIDATE_ID.test(name)) n = Math.max(n, Number(name.slice(1)));
  } catch {
    /* none yet */
  }
  return `c${n + 1}`;
}

/** The open candidate whose worktree holds dir, or null (so a call from inside a worktree needs no --candidate). */
export function candidateAt(exp: ExperimentPaths, dir: string): Candidate | null {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const d = real(dir);
  return openCandidates(exp).find((c) => d === real(c.path) || d.startsWith(real(c.path) + path.sep)) ?? null;
}

/** The serial loop (no --candidate) must not run beside candidates: it would measure and move the main tree under them. */
export function assertNoCandidates(exp: ExperimentPaths): void {
  const open = openCandidates(exp);
  if (open.length) {
    throw new UsageError(`${open.length} candidate(s) open (${open.map((c) => c.id).join(', ')}): pass --candidate ID (or close them with candidate close ID)`);
  }
}
