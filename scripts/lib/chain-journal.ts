// A chain (a follow-up experiment) is all-or-nothing. Before the child's
// segment opens, everything that completes it is written to
// .autoloop/chain.pending.json: the read-only decision, the new chain.json,
// the parent's `chain` event. The next chain, control repair or locked engine
// call (withLock: run, log, diagnose) finishes a killed one, so a child never
// runs without its decision, its place in the trail or its budget: completed
// when the child's config line reached its ledger, rolled back otherwise (the
// child's directory and its fresh branch go, the parent's branch is checked
// out again, chain.json is left as it was).
import fs from 'node:fs';
import path from 'node:path';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import { ChainDecision, ChainFile, saveChainFile } from './chain.ts';
import { putArtifacts } from './artifacts.ts';
import { appendLedger, nowIso, readLedger } from './ledger.ts';
import { experimentPaths, rel, repoPaths } from './paths.ts';
import { readJsonOrNull, writeFileAtomic, writeJsonAtomic } from './fsx.ts';
import { currentBranch, gitTry, revParse } from './gitcmd.ts';
import { recoverInit } from './init-journal.ts';
import { crashPoint } from './faults.ts';

const Pending = lazySchema(() => z.object({
  parent: z.string(),
  child: z.string(),
  decision: z.string(),
  chain_file: ChainFile,
  event: z.record(z.string(), z.unknown()),
  /** The parent's report as hashed (it names the follow-up): written to its report.md once the chain completes. */
  report: z.optional(z.string()),
}));
export type ChainPending = z.infer<typeof Pending>;

export function pendingFile(root: string): string {
  return path.join(repoPaths(root).dir, 'chain.pending.json');
}

export function writePending(root: string, p: ChainPending): void {
  writeJsonAtomic(pendingFile(root), p);
}

/** Makes an experiment the loop's one in active.json (experiment.ts's, passed in: it imports this module). */
export type Publish = (root: string, slug: string) => void;

/** What putting the parent's artifacts in the tree moved aside (repo-relative folder, files). */
export type ArtifactsRescued = { to: string; files: string[] } | null;

/**
 * The parent's best artifacts the decision names (chain --artifacts-from-parent),
 * put in the tree and on record in the child's ledger, once: the child's
 * baseline runs on them. A different file already at a name (the user's) is
 * moved aside, never overwritten.
 */
function putParentArtifacts(root: string, p: ChainPending): ArtifactsRescued {
  const d = ChainDecision.safeParse(JSON.parse(p.decision));
  const a = d.success ? d.data.parent_artifacts : undefined;
  if (!a) return null;
  const child = experimentPaths(root, p.child);
  const lines = readLedger(child.ledger).lines;
  if (lines.some((l) => l.type === 'event' && l.event === 'artifacts')) return null;
  const rescueTo = path.join(child.dir, 'rescued', 'chain');
  const put = putArtifacts(root, { run_id: a.run_id, dir: path.join(root, a.dir), files: a.files }, rescueTo);
  const rescued = put.rescued.length ? { to: rel(root, rescueTo), files: put.rescued } : null;
  const segment = lines.reduce((n, l) => (l.type === 'config' ? l.segment : n), 1);
  const data = { from: p.parent, run_id: a.run_id, dir: a.dir, files: put.written, ...(rescued ? { rescued_to: rescued.to, rescued: rescued.files } : {}) };
  appendLedger(child.ledger, { type: 'event', ts: nowIso(), segment, event: 'artifacts', data });
  return rescued;
}

/** The steps after the child's segment opened; each is skipped when already done. Returns what the parent's artifacts moved aside. */
export function completeChain(root: string, p: ChainPending, publish: Publish): ArtifactsRescued {
  const child = experimentPaths(root, p.child);
  if (!fs.existsSync(child.decision)) {
    // Read-only from the moment it has its name: a kill after the write leaves no writable record.
    writeFileAtomic(child.decision, p.decision, { mode: 0o444 });
    crashPoint('chain:decision');
  }
  saveChainFile(root, p.chain_file);
  const parent = experimentPaths(root, p.parent);
  const done = readLedger(parent.ledger).lines.some((l) => l.type === 'event' && l.event === 'chain' && l.data.child === p.child);
  if (!done) appendLedger(parent.ledger, { type: 'event', ts: nowIso(), event: 'chain', data: p.event });
  // The child is the loop's experiment now (a chain killed before init published it left the parent's active.json).
  recoverInit(child); // the child's own init, killed past its config line, is completed first
  const rescued = putParentArtifacts(root, p);
  // Only now: a chain rolled back leaves no report.md naming a follow-up that never started.
  if (p.report !== undefined) writeFileAtomic(path.join(parent.dir, 'report.md'), p.report);
  publish(root, p.child);
  fs.rmSync(pendingFile(root), { force: true });
  return rescued;
}

async function rollBack(root: string, p: ChainPending): Promise<void> {
  const branch = `autoloop/${p.child}`;
  if ((await currentBranch(root)) === branch) {
    // Back to the parent's branch; a chain started from its best with that branch gone: back to that commit, detached.
    const back = await gitTry(root, ['checkout', '-q', `autoloop/${p.parent}`, '--']);
    if (back.code !== 0) await gitTry(root, ['checkout', '-q', '--detach', branch, '--']);
  }
  if ((await currentBranch(root)) !== branch && (await revParse(root, `refs/heads/${branch}`))) await gitTry(root, ['branch', '-q', '-D', '--', branch]);
  fs.rmSync(experimentPaths(root, p.child).dir, { recursive: true, force: true });
  fs.rmSync(pendingFile(root), { force: true });
}

/** Finish a chain a killed call left; returns what was done, or null. Call under the repository's lock. */
export async function recoverChain(root: string, publish: Publish): Promise<string | null> {
  const file = pendingFile(root);
  if (!fs.existsSync(file)) return null;
  const parsed = Pending.safeParse(readJsonOrNull(file));
  if (!parsed.success) {
    fs.rmSync(file, { force: true });
    return 'dropped a damaged chain.pending.json';
  }
  const p = parsed.data;
  const opened = readLedger(experimentPaths(root, p.child).ledger).lines.some((l) => l.type === 'config');
  if (opened) {
    completeChain(root, p, publish);
    return `completed the follow-up ${p.child} of ${p.parent}`;
  }
  await rollBack(root, p);
  return `rolled back the interrupted follow-up ${p.child} of ${p.parent}`;
}
