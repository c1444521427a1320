// The benchmark's environment is fixed when a segment opens: init-experiment
// records it (env.json, mode 0600, never committed), and every run gives the
// benchmark and the checks exactly that, plus the run's AUTOLOOP_* variables,
// whoever calls run-experiment (a session with another PATH, a supervisor, a
// cron job). Variables that only describe the calling session are left out.
// A chain's follow-up records its parent's environment, not its caller's: the
// loop that chains is often a headless session started without the variables
// the user set up the experiment with.
import path from 'node:path';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import type { ExperimentPaths } from './paths.ts';
import { readJsonOrNull, writeFileAtomic } from './fsx.ts';

const EnvFile = lazySchema(() => z.object({
  version: z.literal(1),
  segment: z.int().check(z.minimum(1)),
  vars: z.record(z.string(), z.string()),
}));

/** Per-session noise: the caller's shell state, the agent's own variables, the engine's test switches. */
const SESSION = /^(AUTOLOOP_|CLAUDE|ANTHROPIC_|OLDPWD$|PWD$|SHLVL$|_$|TERM_SESSION_ID$|WINDOWID$|COLUMNS$|LINES$)/;

export function envFile(exp: ExperimentPaths): string {
  return path.join(exp.dir, 'env.json');
}

export function sessionFree(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(env).sort()) {
    const v = env[k];
    if (v !== undefined && !SESSION.test(k)) out[k] = v;
  }
  return out;
}

/** Record the environment of a segment being opened. */
export function recordEnv(exp: ExperimentPaths, segment: number, env: NodeJS.ProcessEnv = process.env, file = envFile(exp)): void {
  writeFileAtomic(file, JSON.stringify({ version: 1, segment, vars: sessionFree(env) }, null, 2) + '\n', { mode: 0o600 });
}

/** The environment a segment recorded, or null (none, or unreadable): a chain's follow-up inherits its parent's. */
export function recordedEnv(exp: ExperimentPaths): Record<string, string> | null {
  const parsed = EnvFile.safeParse(readJsonOrNull(envFile(exp)));
  return parsed.success ? parsed.data.vars : null;
}

/**
 * The environment a run's commands get: the segment's, else (an experiment
 * opened before this existed) the caller's; then the run's own variables.
 */
export function benchEnv(exp: ExperimentPaths, extra: Record<string, string>): { env: Record<string, string>; fixed: boolean } {
  const parsed = EnvFile.safeParse(readJsonOrNull(envFile(exp)));
  const base = parsed.success ? parsed.data.vars : sessionFree(process.env);
  return { env: { ...base, ...extra }, fixed: parsed.success };
}
