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
import { countIo } from '../iocount.ts';

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
  countIo('candidate');
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

/**
 * candidates/open/<id>: an empty file for each candidate that may be open, so
 * that finding the open ones reads those few, not every candidate ever opened
 * (each keeps its folder: a long parallel history has tens of thousands, and
 * status, every engine call's active.json and the dashboard asked for them).
 * The marks are a superset of the open candidates: one is made before a
 * candidate is saved open and removed after it is saved closed, so a kill in
 * between leaves only a mark too many (skipped, and removed by the next read).
 * `.complete` says the marks cover every candidate: a folder written before
 * the marks existed (an older version) is found by one full scan, which
 * writes them.
 */
const OPEN_DIR = 'open';
const COMPLETE = '.complete';

function openDir(exp: ExperimentPaths): string {
  return path.join(candidatesDir(exp), OPEN_DIR);
}

function mark(exp: ExperimentPaths, id: string): void {
  fs.mkdirSync(openDir(exp), { recursive: true });
  fs.writeFileSync(path.join(openDir(exp), id), '', { flag: 'a' });
}

function unmark(exp: ExperimentPaths, id: string): void {
  fs.rmSync(path.join(openDir(exp), id), { force: true });
}

export function saveCandidate(exp: ExperimentPaths, c: Candidate): void {
  const parsed = Candidate.parse(c);
  if (parsed.status === 'open') mark(exp, parsed.id);
  writeJsonAtomic(candidatePaths(exp, c.id).file, parsed);
  if (parsed.status === 'closed') unmark(exp, parsed.id);
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

/** The open candidates, by number: from their marks, or (no complete set of marks yet) every folder once, writing the marks. */
export function openCandidates(exp: ExperimentPaths): Candidate[] {
  let names: string[] | null;
  try {
    names = fs.readdirSync(openDir(exp));
    if (!names.includes(COMPLETE)) names = null;
  } catch (e) {
    // No candidate was ever saved by this version: nothing open, unless an older one left folders.
    names = (e as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(candidatesDir(exp)) ? [] : null;
  }
  if (names === null) return markAll(exp);
  const open: Candidate[] = [];
  for (const n of names.filter((x) => CANDIDATE_ID.test(x)).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))) {
    const c = readCandidate(exp, n);
    if (c?.status === 'open') open.push(c);
    else if (c?.status === 'closed') tryUnmark(exp, n); // a close killed before its mark went (closed is final)
  }
  return open;
}

/** Every folder read once: the open ones marked, then the set declared complete (best effort: a read-only tree is read in full each time). */
function markAll(exp: ExperimentPaths): Candidate[] {
  const open = listCandidates(exp).filter((c) => c.status === 'open');
  try {
    for (const c of open) mark(exp, c.id);
    fs.mkdirSync(openDir(exp), { recursive: true });
    fs.writeFileSync(path.join(openDir(exp), COMPLETE), '');
  } catch {
    /* a cache: the next call scans again */
  }
  return open;
}

function tryUnmark(exp: ExperimentPaths, id: string): void {
  try {
    unmark(exp, id);
  } catch {
    /* read-only: skipped again next time */
  }
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
