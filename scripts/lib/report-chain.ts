// The report's chain context: which experiment this one followed and why (its
// read-only decision), and what comes next. It names only what is fixed once
// written (the trail up to here, this experiment's own follow-up), so the
// parent's report reads the same after the follow-up starts as when chain
// hashed it (chain renders it with the follow-up already in: chain.ts).
import fs from 'node:fs';
import { ChainDecision, chainStatusIn, loadChainFile, type ChainFile } from './chain.ts';
import { experimentPaths } from './paths.ts';
import { fmt } from './summary.ts';
import { mdText } from './report-text.ts';

export interface ReportChain {
  /** The chain's slugs from its root to this experiment, then its follow-up if it has one. */
  trail: string[];
  /** The experiment this one followed (null: it roots the chain). */
  parent: string | null;
  /** Why this follow-up, as its decision record has it. */
  rationale: string | null;
  /** The parent's best this one started from. */
  parent_best: { metric: string; value: number | null; unit: string } | null;
  /** The follow-up started from this experiment, if any. */
  child: string | null;
  next: string;
}

function readDecision(root: string, slug: string): ChainDecision | null {
  try {
    const r = ChainDecision.safeParse(JSON.parse(fs.readFileSync(experimentPaths(root, slug).decision, 'utf8')));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** The chain context of `slug` in `file` (default: .autoloop/chain.json); null when it is in no chain or the file cannot be read. */
export function chainContext(root: string, slug: string, terminated: boolean, file?: ChainFile): ReportChain | null {
  let f: ChainFile;
  try {
    f = file ?? loadChainFile(root);
  } catch {
    return null; // a broken chain.json is refused by chain itself; the report stays what the ledger says
  }
  const s = chainStatusIn(f, slug);
  if (!s.chain) return null;
  const parent = s.position > 0 ? (s.chain.trail[s.position - 1] ?? null) : null;
  const d = parent ? readDecision(root, slug) : null;
  const p = d?.parent_primary;
  const left = `${s.remaining} of ${s.budget} left`;
  const next = s.child
    ? `its follow-up ${s.child} (report --experiment ${s.child})`
    : s.remaining === 0
      ? `the chain budget is used (${s.used} of ${s.budget}): finalize (--chain for the whole trail)`
      : terminated
        ? `/autoloop:chain may start a follow-up (${left}), or finalize`
        : `this experiment continues; when it terminates, /autoloop:chain may start a follow-up (${left}), or finalize`;
  return {
    trail: s.chain.trail.slice(0, s.position + (s.child ? 2 : 1)),
    parent,
    rationale: d?.rationale ?? null,
    parent_best: p ? { metric: p.name, value: p.best, unit: p.unit } : null,
    child: s.child,
    next,
  };
}

/** The report's "## Chain" section (empty when the experiment is in no chain). */
export function chainSection(c: ReportChain | null, slug: string): string[] {
  if (!c) return [];
  const out = ['', '## Chain', '', `- **Trail:** ${c.trail.map((x) => (x === slug ? `**${x}**` : x)).join(' → ')}`];
  if (c.parent) {
    const b = c.parent_best;
    const best = b ? ` (its best: ${b.metric} ${fmt(b.value)}${b.unit ? ` ${b.unit}` : ''})` : '';
    out.push(`- **Follows:** ${c.parent}${best}: ${c.rationale === null ? '(no decision record)' : mdText(c.rationale, 400)}`);
  }
  out.push(`- **Next:** ${c.next}`);
  return out;
}
