// Shapes the hooks read. The engine's ActiveFile lives in scripts/lib/schema.ts
// (full zod); the hooks re-declare it with zod/mini so that full zod never
// lands in dist/hooks.mjs (it would double the start-up cost of every hook).
import * as z from 'zod/mini';
import type { ActiveFile as EngineActiveFile } from '../../scripts/lib/schema.ts';

const TerminatedBy = z.enum(['target', 'plateau', 'max_runs', 'wall_clock', 'chain_budget', 'manual']);

export const ActiveFile = z.object({
  version: z.literal(1),
  experiment: z.string(),
  loop: z.enum(['active', 'paused', 'stopped', 'terminated']),
  scope: z.array(z.string()),
  protect: z.array(z.string()),
  writable: z.array(z.string()),
  summary: z.string(),
  next_action: z.string(),
  terminated_by: z.nullable(TerminatedBy),
  chain_allowed: z._default(z.boolean(), false),
  runs: z.int().check(z.minimum(0)),
  next_run: z.optional(z.int().check(z.minimum(1))),
  stop_hook: z.object({
    max_blocks: z.int().check(z.minimum(0)),
    max_idle_blocks: z.int().check(z.minimum(1)),
  }),
  /** Candidate worktrees in flight (parallel mode): guarded like the main tree. */
  worktrees: z._default(z.array(z.object({ id: z.string(), path: z.string() })), []),
  updated_at: z.string(),
});
export type ActiveFile = z.infer<typeof ActiveFile>;

// Fails to compile when the engine's shape and this one drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const inSync: Same<ActiveFile, EngineActiveFile> = true;
void inSync;

/** .autoloop/session.json: the hooks' own memory (which session owns the loop, Stop counters). */
export const SessionFile = z.object({
  owner_session: z.nullable(z.string()),
  owner_agent: z.nullable(z.string()),
  /** Stop blocks issued to the owner session. */
  blocks: z.int(),
  /** Consecutive blocks with no new logged run. */
  idle_blocks: z.int(),
  /** active.runs when the last block was issued (or when the session claimed the loop). */
  last_runs: z.nullable(z.int()),
  /** The termination the follow-up nudge was already given for. */
  chain_nudged: z._default(z.nullable(z.string()), null),
  /** A session handed the loop (/autoloop:run, /autoloop:chain, /autoloop:setup, init) that does not drive it yet. */
  candidate: z._default(z.nullable(z.string()), null),
  /** The owner's tool calls since the loop terminated (key: which termination). */
  past_end: z._default(z.nullable(z.object({ key: z.string(), calls: z.int() })), null),
  /**
   * The Claude Code process the owner runs in (cli-process.ts: pid@start), or null when unknown.
   * A /clear gives the conversation a new id in the same process: this is what ties the two.
   */
  owner_process: z._default(z.nullable(z.string()), null),
  /**
   * The Claude Code process the candidate runs in, recorded with it: a /clear there (a new id in the
   * same process) keeps the handover, as owner_process keeps the owner.
   */
  candidate_process: z._default(z.nullable(z.string()), null),
});
export type SessionFile = z.infer<typeof SessionFile>;

// Hook inputs (platform doc §4.3). Loose: Claude Code adds fields over time.
const Common = {
  session_id: z.string(),
  cwd: z.optional(z.string()),
  agent_id: z.optional(z.string()),
  agent_type: z.optional(z.string()),
};

export const SessionStartInput = z.looseObject({ ...Common, source: z.optional(z.string()) });
export const SessionEndInput = z.looseObject({ ...Common, reason: z.optional(z.string()) });
export const StopInput = z.looseObject({ ...Common, stop_hook_active: z.optional(z.boolean()) });
export const PreToolUseInput = z.looseObject({
  ...Common,
  tool_name: z.string(),
  tool_input: z.record(z.string(), z.unknown()),
});
export type PreToolUseInput = z.infer<typeof PreToolUseInput>;
export const PostToolUseInput = PreToolUseInput;
export type PostToolUseInput = PreToolUseInput;
export const PromptExpansionInput = z.looseObject({ ...Common, command_name: z.optional(z.string()) });
export type PromptExpansionInput = z.infer<typeof PromptExpansionInput>;
