// A long unattended session: the real CLI with no permission flag, the
// scripted model iterating edit + one call that measures and logs
// (run-experiment --description), both in one turn, until the engine says should_terminate
// (budget: max_runs), a deterministic benchmark (each change lowers COST by
// one, so every run is a keep and only the budget ends the loop). Shared by
// test/e2e/long-session.test.ts and bench/session.ts, which read the scripted
// API's request log: the bytes the model read per iteration and how the
// request grew over the session.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeFixture, runSession, type Fixture, type Session } from './fixture.ts';
import { bash, sinceLastAssistant, startMockApi, text, tool, type ApiRequest, type Block, type Logged } from './mock-api.ts';

export interface LongLoopOptions {
  claude: string;
  /** Plugin directory whose dist/ holds the engine bundles. */
  pluginRoot: string;
  /** The budget: max_runs, the baseline included. */
  maxRuns: number;
  /** Ends only a hang. */
  timeoutMs: number;
  /** Run bench/check.mjs after each measurement (default true). */
  checks?: boolean;
  /** Samples per run (the engine's --repeats; default: the engine's auto). */
  repeats?: number;
  /** The benchmark: `node bench/bench.mjs` (default) or `sh bench/bench.sh`, the same metric without a Node start per sample. */
  benchmark?: 'node' | 'shell';
}

export interface LongLoop {
  fixture: Fixture;
  session: Session;
  /** Every request the CLI sent (main thread and side requests), sizes only (no bodies). */
  log: Logged[];
  /** Each main-thread request the model answered, cut to its last assistant message and what followed (what humanTurns and stopHookTurns read). */
  main: ApiRequest[];
  /** Bytes of each iteration's tool result (the one call that measures and logs), in order. */
  iterationBytes: number[];
  /** log-experiment's answer in the last iteration. */
  lastLog: Record<string, unknown> | null;
  /** Main-thread requests the model answered. */
  turns: number;
  errors: Error[];
}

const PROMPT = 'Continue the autoloop experiment.';

interface Call {
  name: string;
  input: Record<string, unknown>;
  id: string;
}

function lastCall(req: ApiRequest): Call | null {
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i]!;
    if (m.role !== 'assistant' || typeof m.content === 'string') continue;
    const b = [...m.content].reverse().find((c) => c.type === 'tool_use');
    return b ? { name: b.name ?? '', input: (b.input ?? {}) as Record<string, unknown>, id: b.id ?? '' } : null;
  }
  return null;
}

function resultOf(req: ApiRequest, id: string): string {
  // From the end: the result sought is nearly always in the last message.
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i]!;
    if (typeof m.content === 'string') continue;
    for (const b of m.content) {
      if (b.type === 'tool_result' && b.tool_use_id === id) return typeof b.content === 'string' ? b.content : (b.content ?? []).map((c) => c.text ?? '').join('\n');
    }
  }
  return '';
}

/** The last JSON line of a tool result (the iteration's answer). */
export function lastJson(out: string): Record<string, unknown> | null {
  const line = out.split('\n').filter((l) => l.trim().startsWith('{')).pop();
  try {
    return line ? (JSON.parse(line) as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

// The ordinary iteration is one call: run-experiment --description measures and logs.
const isIteration = (c: Call | null): boolean => c?.name === 'Bash' && /dist\/run-experiment\.mjs" --description /.test(String(c.input.command ?? ''));

export async function longLoop(o: LongLoopOptions): Promise<LongLoop> {
  const shell = o.benchmark === 'shell';
  const f = makeFixture({ cost: o.maxRuns + 100, shellBench: shell });
  const dist = (s: string): string => path.join(o.pluginRoot, 'dist', s);
  const engine = (s: string, ...args: string[]) => execFileSync('node', [dist(s), ...args, '--json'], { cwd: f.repo, encoding: 'utf8', timeout: 120_000 });
  const checks = o.checks === false ? [] : ['--checks', 'node bench/check.mjs'];
  const repeats = o.repeats === undefined ? [] : ['--repeats', String(o.repeats)];
  engine('init-experiment.mjs', '--name', 'speed', '--metric', 'time_ms', '--direction', 'lower', '--command', shell ? 'sh bench/bench.sh' : 'node bench/bench.mjs', ...checks, '--scope', 'src/**', '--max-runs', String(o.maxRuns), ...repeats);
  engine('run-experiment.mjs');
  engine('log-experiment.mjs', '--description', 'baseline');

  const work = path.join(f.repo, 'src', 'work.mjs');
  let iteration = 0;
  // What is read after the session: each main request's tail, and the last request whole.
  const tails: ApiRequest[] = [];
  let final: ApiRequest | undefined;
  const script = ({ req }: { req: ApiRequest }): Block[] => {
    final = req;
    tails.push(tail(req));
    const last = lastCall(req);
    if (isIteration(last) && lastJson(resultOf(req, last!.id))?.should_terminate === true) return [text('The experiment is over: the budget is spent.')];
    // After the end: the Stop hook's one nudge towards /autoloop:chain; this model declines it.
    if (last === null && req.messages.some((m) => m.role === 'assistant')) return [text('No follow-up: the budget is spent.')];
    // One model turn per iteration: the edit and the call that measures and logs it, in one message (as a
    // real model may send them). The CLI runs a message's non-read-only tools one after another, in order,
    // each through the PreToolUse hook, so the edit lands before the run; half the turns of edit-then-run.
    const cost = Number(fs.readFileSync(work, 'utf8').match(/COST = (\d+);/)![1]);
    iteration++;
    return [
      tool('Edit', { file_path: work, old_string: `export const COST = ${cost};`, new_string: `export const COST = ${cost - 1};`, replace_all: false }),
      bash(`node "${dist('run-experiment.mjs')}" --description "cost step ${iteration}" --hypothesis "lower cost" --json`, 'measure and log'),
    ];
  };
  const api = await startMockApi({ script, keepBodies: false });
  try {
    const session = await runSession({ claude: o.claude, fixture: f, apiUrl: api.url, prompt: PROMPT, pluginDir: o.pluginRoot, noFlags: true, args: ['--agent', 'autoloop'], timeoutMs: o.timeoutMs });
    const outputs: string[] = [];
    if (final) {
      for (const m of final.messages) {
        if (m.role !== 'assistant' || typeof m.content === 'string') continue;
        for (const b of m.content) {
          if (b.type === 'tool_use' && isIteration({ name: b.name ?? '', input: (b.input ?? {}) as Record<string, unknown>, id: b.id ?? '' })) outputs.push(resultOf(final, b.id ?? ''));
        }
      }
    }
    const iterationBytes = outputs.map((t) => Buffer.byteLength(t));
    return { fixture: f, session, log: [...api.log], iterationBytes, lastLog: lastJson(outputs.at(-1) ?? ''), turns: tails.length, main: tails, errors: [...api.errors] };
  } finally {
    await api.close();
  }
}

/** The request from its last assistant message on (the whole request when there is none). */
function tail(req: ApiRequest): ApiRequest {
  let i = req.messages.length - 1;
  while (i > 0 && req.messages[i]!.role !== 'assistant') i--;
  return { messages: req.messages.slice(Math.max(i, 0)) };
}

/** Main-thread requests after the first that neither followed a tool call nor came from a Stop hook: a human had to start them. */
export const humanTurns = (main: ApiRequest[]): number =>
  main.slice(1).filter((r) => lastCall(r) === null && !sinceLastAssistant(r).includes('Stop hook feedback')).length;

/** Turns the Stop hook started (it sends the owner back, or nudges towards a follow-up at the end). */
export const stopHookTurns = (main: ApiRequest[]): number => main.filter((r) => sinceLastAssistant(r).includes('Stop hook feedback')).length;

/** Body sizes of the main-thread requests, in order. */
export const mainBytes = (log: Logged[]): number[] => log.filter((l) => l.role === 'main' && !l.fault).map((l) => l.bytes);
