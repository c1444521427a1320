// Chains: a follow-up experiment started from a terminated one. The budget
// (how many follow-ups a chain may have) and the trail (root → child → …) live
// in ONE file, .autoloop/chain.json, so the Stop hook's `chain_allowed`, the
// log-experiment output and chain.ts all read the same numbers. This module is
// deliberately free of experiment.ts imports: publishActive reads it.
import fs from 'node:fs';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import { Direction, Guardrail, MetricName, Slug } from './schema.ts';
import { repoPaths } from './paths.ts';
import { readJsonOrNull, writeJsonAtomic } from './fsx.ts';
import { UsageError, zodOneLine } from './errors.ts';
import { nowIso } from './ledger.ts';

/** Follow-ups a chain may have when the first chain call does not set --budget. */
export const DEFAULT_CHAIN_BUDGET = 3;

const Sha256 = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be a sha256 (64 hex digits)'));

export const ChainLink = lazySchema(() => z.object({
  parent: Slug,
  child: Slug,
  /** The child's place in the trail: the root is 0, its first follow-up 1. */
  position: z.int().check(z.minimum(1)),
  created_at: z.string(),
  parent_report_sha256: Sha256,
}));
export type ChainLink = z.infer<typeof ChainLink>;

export const Chain = lazySchema(() => z.object({
  /** Follow-ups allowed after the root (set by the first chain call). */
  budget: z.int().check(z.minimum(1)),
  /** Slugs from the root to the newest follow-up. */
  trail: z.array(Slug).check(z.minLength(2)),
  links: z.array(ChainLink).check(z.minLength(1)),
}).check(z.superRefine((c, ctx) => {
  // The trail and the links must tell the same story, or the budget count lies.
  const ok =
    c.links.length === c.trail.length - 1 &&
    c.links.every((l, i) => l.parent === c.trail[i] && l.child === c.trail[i + 1] && l.position === i + 1);
  if (!ok) ctx.addIssue({ code: 'custom', message: 'trail and links disagree', path: ['trail'] });
  if (new Set(c.trail).size !== c.trail.length) ctx.addIssue({ code: 'custom', message: 'an experiment appears twice in the trail', path: ['trail'] });
})));
export type Chain = z.infer<typeof Chain>;

export const ChainFile = lazySchema(() => z.object({
  version: z.literal(1),
  chains: z.array(Chain),
  updated_at: z.string(),
}).check(z.superRefine((f, ctx) => {
  const seen = new Set<string>();
  for (const c of f.chains) {
    for (const s of c.trail) {
      if (seen.has(s)) ctx.addIssue({ code: 'custom', message: `experiment "${s}" is in two chains`, path: ['chains'] });
      seen.add(s);
    }
  }
})));
export type ChainFile = z.infer<typeof ChainFile>;

/** <child>/chain-decision.json: why the follow-up exists, written once and made read-only. */
export const ChainDecision = lazySchema(() => z.object({
  version: z.literal(1),
  parent: Slug,
  child: Slug,
  position: z.int().check(z.minimum(1)),
  chain_budget: z.int().check(z.minimum(1)),
  /** Follow-ups still allowed after this one. */
  chain_remaining: z.int().check(z.minimum(0)),
  trail: z.array(Slug).check(z.minLength(2)),
  rationale: z.string().check(z.minLength(1)),
  parent_report_sha256: Sha256,
  /** Repo-relative path of the parent's report, as hashed. */
  parent_report: z.string(),
  parent_primary: z.object({
    name: MetricName,
    direction: Direction,
    unit: z.string(),
    baseline: z.nullable(z.number()),
    best: z.nullable(z.number()),
    best_commit: z.nullable(z.string()),
    terminated_by: z.nullable(z.string()),
  }),
  child_primary: z.object({ name: MetricName, direction: Direction, unit: z.string() }),
  child_goal: z.string(),
  child_scope: z.array(z.string()),
  /** Config fields set by flags instead of inherited from the parent. */
  overrides: z.array(z.string()),
  /** The parent's best artifacts the child started from (chain --artifacts-from-parent). */
  parent_artifacts: z.optional(z.object({ run_id: z.string(), dir: z.string(), files: z.array(z.string()) })),
  /** The child's guardrails (inherited, the parent's primary guard, added by flags). */
  guardrails: z._default(z.array(Guardrail), []),
  /** Guardrails the rationale dropped explicitly (--drop-guardrail). */
  dropped_guardrails: z._default(z.array(z.string()), []),
  created_at: z.string(),
}));
export type ChainDecision = z.infer<typeof ChainDecision>;

function emptyFile(): ChainFile {
  return { version: 1, chains: [], updated_at: nowIso() };
}

/** chain.json, validated; missing = no chain yet. A file that does not parse is refused, never guessed at. */
export function loadChainFile(root: string): ChainFile {
  const file = repoPaths(root).chain;
  if (!fs.existsSync(file)) return emptyFile();
  const raw = readJsonOrNull(file);
  if (raw === null) throw new UsageError(`.autoloop/chain.json is not valid JSON: fix or remove it`);
  const r = ChainFile.safeParse(raw);
  if (!r.success) throw new UsageError(zodOneLine('.autoloop/chain.json', r.error.issues));
  return r.data;
}

export function saveChainFile(root: string, file: ChainFile): void {
  writeJsonAtomic(repoPaths(root).chain, ChainFile.parse({ ...file, updated_at: nowIso() }));
}

export interface ChainStatus {
  /** The chain this experiment belongs to, or null (it would root a new one). */
  chain: Chain | null;
  budget: number;
  used: number;
  /** Follow-ups the chain may still have. */
  remaining: number;
  /** 0 for a root (or an experiment in no chain). */
  position: number;
  /** The follow-up already started from this experiment, if any. */
  child: string | null;
  /** May a follow-up be started from this experiment (budget left, no follow-up yet)? */
  allowed: boolean;
}

export function chainStatusIn(file: ChainFile, slug: string): ChainStatus {
  const chain = file.chains.find((c) => c.trail.includes(slug)) ?? null;
  if (!chain) return { chain: null, budget: DEFAULT_CHAIN_BUDGET, used: 0, remaining: DEFAULT_CHAIN_BUDGET, position: 0, child: null, allowed: true };
  const position = chain.trail.indexOf(slug);
  const used = chain.links.length;
  const remaining = Math.max(0, chain.budget - used);
  const child = chain.trail[position + 1] ?? null;
  return { chain, budget: chain.budget, used, remaining, position, child, allowed: remaining > 0 && child === null };
}

export function chainStatus(root: string, slug: string): ChainStatus {
  return chainStatusIn(loadChainFile(root), slug);
}

/**
 * For the hooks: may a terminated experiment be pushed into a follow-up? A
 * chain.json that cannot be read answers no, so a broken file never makes the
 * Stop hook keep a session going.
 */
export function followUpAllowed(root: string, slug: string): boolean {
  return safeChainStatus(root, slug).allowed;
}

/**
 * Is this the last experiment its chain allows (in a chain, budget used, no
 * follow-up)? Its termination then ends the chain (chain_budget). A broken
 * chain.json answers no: the rule that fired is said as it is.
 */
export function chainUsedUp(root: string, slug: string): boolean {
  const s = safeChainStatus(root, slug);
  return !s.error && s.chain !== null && s.child === null && s.remaining === 0;
}

/** chainStatus for callers that must not fail on a broken chain.json (it then allows nothing). */
export function safeChainStatus(root: string, slug: string): ChainStatus & { error?: string } {
  try {
    return chainStatus(root, slug);
  } catch (e) {
    return { chain: null, budget: 0, used: 0, remaining: 0, position: 0, child: null, allowed: false, error: (e as Error).message };
  }
}

/** One line on the chain budget, for log-experiment and chain output. */
export function chainBudgetLine(s: ChainStatus & { error?: string }): string {
  if (s.error) return `chain budget unknown (${s.error}): stop cleanly`;
  if (s.child) return `chain: follow-up already started (${s.child})`;
  if (s.remaining === 0) return `chain budget exhausted (${s.used}/${s.budget} follow-ups used): stop cleanly (report, finalize)`;
  return `chain budget: ${s.remaining} follow-up${s.remaining === 1 ? '' : 's'} left`;
}

/**
 * The chain budget as the follow-up that was just started sees it. Its own
 * start spent a unit: "exhausted: stop cleanly" would tell the loop to stop
 * before this follow-up's baseline, so it says what is left after this one.
 */
export function startedBudgetLine(s: ChainStatus): string {
  if (s.remaining === 0) return `chain budget: this is the last follow-up (${s.used}/${s.budget} used); when it terminates, stop cleanly (report, finalize)`;
  return `chain budget: ${s.remaining} more follow-up${s.remaining === 1 ? '' : 's'} after this one`;
}

/** The file with a new link parent → child added (a new chain when the parent roots one). */
export function withLink(file: ChainFile, link: Omit<ChainLink, 'position'>, budget: number): { file: ChainFile; link: ChainLink; chain: Chain } {
  const chains = file.chains.map((c) => structuredClone(c));
  let chain = chains.find((c) => c.trail.includes(link.parent));
  if (!chain) {
    chain = { budget, trail: [link.parent], links: [] };
    chains.push(chain);
  }
  const full: ChainLink = { ...link, position: chain.trail.length };
  chain.trail.push(link.child);
  chain.links.push(full);
  return { file: { ...file, chains }, link: full, chain };
}
