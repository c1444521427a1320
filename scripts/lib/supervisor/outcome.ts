// What a `claude -p --output-format stream-json --verbose` session told us, and
// why it ended. Pure: the supervisor feeds it the CLI's stdout lines and its
// exit, and gets back one cause. What the CLI 2.1.329 reports (seen against
// the scripted API, test/e2e):
//   - API errors it gave up on: a `result` line with terminal_reason
//     "api_error", is_error true, api_error_status (429, 529, 500…; null for a
//     dropped connection, with api_error "connection_failed"), api_error_type,
//     and a `system`/`api_retry` line before each of its own retries.
//   - a usage limit (subscription login): api_error "usage_limit_reached",
//     result "You've hit your 5-hour limit · resets 3:32am (UTC)", and a
//     `rate_limit_event` line whose rate_limit_info.resetsAt is epoch seconds.
//   - its turn limit: subtype "error_max_turns", terminal_reason "max_turns".
//   - a crash or a kill: no result line at all.
//   - `--resume <id>` with no transcript for that id: no init line, a result
//     line with subtype "error_during_execution", num_turns 0 and errors
//     ["No conversation found with session ID: <id>"], exit 1.
import * as z from '../zod.ts';
import { parseResetText } from './reset-time.ts';

const InitLine = z.object({ type: z.literal('system'), subtype: z.literal('init'), session_id: z.string() });
const RetryLine = z.object({
  type: z.literal('system'),
  subtype: z.literal('api_retry'),
  attempt: z.number(),
  max_retries: z.number(),
  retry_delay_ms: z.number(),
  error_status: z.optional(z.nullable(z.number())),
  error: z.optional(z.string()),
});
const RateLimitLine = z.object({
  type: z.literal('rate_limit_event'),
  rate_limit_info: z.object({ status: z.string(), resetsAt: z.optional(z.number()), rateLimitType: z.optional(z.string()) }),
});
const ResultLine = z.object({
  type: z.literal('result'),
  subtype: z.string(),
  session_id: z.optional(z.string()),
  is_error: z.optional(z.boolean()),
  terminal_reason: z.optional(z.string()),
  api_error_status: z.optional(z.nullable(z.number())),
  api_error: z.optional(z.string()),
  api_error_type: z.optional(z.string()),
  result: z.optional(z.string()),
  errors: z.optional(z.array(z.string())),
  num_turns: z.optional(z.number()),
});
export type ResultLine = z.infer<typeof ResultLine>;

export interface Observed {
  /** The CLI got as far as starting a session (its init line). */
  started: boolean;
  sessionId: string | null;
  result: ResultLine | null;
  /** The last rejected rate-limit window the CLI reported (reset in epoch ms). */
  limit: { resetAtMs: number | null; type: string | null } | null;
  /** The CLI's last own retry: how long it meant to wait. */
  lastRetryMs: number | null;
}

export const nothingObserved = (): Observed => ({ started: false, sessionId: null, result: null, limit: null, lastRetryMs: null });

/** Fold one stdout line into what was observed; `note` is a progress line for people, if any. */
export function observe(obs: Observed, line: string): { obs: Observed; note: string | null } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { obs, note: null };
  }
  const init = InitLine.safeParse(raw);
  if (init.success) return { obs: { ...obs, started: true, sessionId: init.data.session_id }, note: null };
  const retry = RetryLine.safeParse(raw);
  if (retry.success) {
    const r = retry.data;
    const what = r.error_status ? `${r.error_status}${r.error ? ` ${r.error}` : ''}` : (r.error ?? 'no answer');
    return {
      obs: { ...obs, lastRetryMs: r.retry_delay_ms },
      note: `the API answered ${what}; claude retries by itself (attempt ${r.attempt} of ${r.max_retries}, in ${seconds(r.retry_delay_ms)})`,
    };
  }
  const rl = RateLimitLine.safeParse(raw);
  if (rl.success) {
    const info = rl.data.rate_limit_info;
    if (info.status !== 'rejected') return { obs, note: null };
    // Epoch seconds; anything else (0, or too big to be a time) is no reset, and the text is read instead.
    const resetAtMs = info.resetsAt && Number.isFinite(info.resetsAt * 1000) ? info.resetsAt * 1000 : null;
    return { obs: { ...obs, limit: { resetAtMs, type: info.rateLimitType ?? null } }, note: null };
  }
  const res = ResultLine.safeParse(raw);
  if (res.success) return { obs: { ...obs, result: res.data, sessionId: res.data.session_id ?? obs.sessionId }, note: null };
  return { obs, note: null };
}

export type Cause =
  | 'usage_limit'
  | 'rate_limit'
  | 'overloaded'
  | 'api_error'
  | 'connection'
  | 'max_turns'
  | 'killed'
  | 'crash'
  | 'ended'
  | 'start_failure'
  | 'resume_failed'
  | 'fatal'
  // Never a session's ending, only why up starts one: the loop terminated but
  // its experiment was not closed; an earlier up ended without stopping cleanly.
  | 'unclosed'
  | 'restart';

export interface Ending {
  cause: Cause;
  /** One line for people: what happened. */
  detail: string;
  /** usage_limit: when it resets (epoch ms), if the CLI said. */
  resetAtMs?: number | null;
  /** The CLI's last own retry delay, a floor for our wait after API errors. */
  retryDelayMs?: number | null;
  sessionId: string | null;
}

export interface Exit {
  code: number | null;
  signal: string | null;
  /** Set when the process could not be started at all (e.g. no such command). */
  error?: string;
}

const FATAL_ERRORS = new Set(['authentication_failed', 'billing_error', 'api_key_auth_disabled', 'org_disabled_credential', 'provider_credentials', 'message_over_context_limit', 'claude_code_version_too_old']);

/** Why a session ended, from its exit and what it printed. */
export function classify(exit: Exit, obs: Observed, nowMs: number): Ending {
  const sessionId = obs.sessionId;
  const r = obs.result;
  if (exit.error) return { cause: 'start_failure', detail: `could not run claude: ${exit.error}`, sessionId };
  // The conversation to resume is gone (or its id was not one): nothing ran,
  // and the id the CLI echoes is the dead one.
  if (r && !obs.started && (r.errors ?? []).some((e) => /No conversation found|--resume requires/i.test(e))) {
    return { cause: 'resume_failed', detail: oneLine(r.errors!.join('; ')), sessionId: null };
  }
  if (!r) {
    if (exit.signal) return { cause: 'killed', detail: `claude was killed (${exit.signal})`, sessionId };
    if (!obs.started) return { cause: 'start_failure', detail: `claude exited (code ${exit.code ?? '?'}) before a session started`, sessionId };
    return { cause: 'crash', detail: `claude exited (code ${exit.code ?? '?'}) without a result`, sessionId };
  }
  const text = oneLine(r.result ?? r.errors?.join('; ') ?? '');
  const status = r.api_error_status ?? null;
  // A rejected window the session got past (the CLI waited, or moved to
  // usage credits) or a final answer that merely mentions a limit is no usage
  // limit: only a session that ended in an error is read as one.
  const failed = r.is_error === true || r.terminal_reason === 'api_error';
  if (r.api_error === 'usage_limit_reached' || (failed && (obs.limit || /hit your .*limit/i.test(text)))) {
    const resetAtMs = obs.limit?.resetAtMs ?? parseResetText(text, nowMs);
    return { cause: 'usage_limit', detail: text || 'usage limit reached', resetAtMs, sessionId };
  }
  if (r.subtype === 'error_max_turns' || r.terminal_reason === 'max_turns') return { cause: 'max_turns', detail: text || "claude's turn limit was reached", sessionId };
  if (r.terminal_reason === 'api_error' || (r.is_error && (status !== null || r.api_error))) {
    const retryDelayMs = obs.lastRetryMs;
    if ((r.api_error && FATAL_ERRORS.has(r.api_error)) || status === 401 || status === 403 || status === 400 || status === 413) {
      return { cause: 'fatal', detail: text || `API error ${status ?? r.api_error}`, sessionId };
    }
    if (status === 429) return { cause: 'rate_limit', detail: text, retryDelayMs, sessionId };
    if (status === 529 || r.api_error_type === 'overloaded_error') return { cause: 'overloaded', detail: text, retryDelayMs, sessionId };
    if (status === null && (r.api_error === 'connection_failed' || r.api_error === 'no_response' || r.api_error === 'stream_idle_timeout')) {
      return { cause: 'connection', detail: text, retryDelayMs, sessionId };
    }
    return { cause: 'api_error', detail: text || `API error ${status ?? r.api_error ?? ''}`.trim(), retryDelayMs, sessionId };
  }
  if (r.subtype === 'error_max_budget_usd') return { cause: 'fatal', detail: text || "claude's --max-budget-usd was reached", sessionId };
  return { cause: 'ended', detail: `the session ended (${r.terminal_reason ?? r.subtype})`, sessionId };
}

export function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 199)}…` : t;
}
