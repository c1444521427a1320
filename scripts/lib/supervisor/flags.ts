// `up` flags: its own before `--`, claude's after it (passed through as given,
// except the ones the supervisor must own to drive and read the sessions).
import * as z from '../zod.ts';
import { CommonFlags, parseFlags } from '../cli.ts';
import { UsageError } from '../errors.ts';
import { DEFAULT_POLICY, type Policy } from './policy.ts';

const OPTIONS = {
  experiment: { type: 'string' },
  claude: { type: 'string' },
  backoff: { type: 'string' },
  'backoff-max': { type: 'string' },
  'max-per-hour': { type: 'string' },
  'reset-margin': { type: 'string' },
  grace: { type: 'string' },
} as const;

const seconds = z.coerce.number().check(z.minimum(0), z.maximum(7 * 86_400));
const Flags = z.object({
  ...CommonFlags,
  experiment: z.optional(z.string()),
  claude: z.optional(z.string().check(z.minLength(1))),
  backoff: z.optional(seconds),
  'backoff-max': z.optional(seconds),
  'max-per-hour': z.optional(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(3600))),
  'reset-margin': z.optional(seconds),
  grace: z._default(z.coerce.number().check(z.minimum(0), z.maximum(120)), 5),
});

/** claude flags that `up` sets itself: passing them would break how it drives and reads the sessions. */
const OWNED = ['-p', '--print', '--output-format', '--input-format', '-c', '--continue', '-r', '--resume', '--session-id', '--agent', '--verbose'];

export const USAGE = `usage: up [--cwd DIR] [--experiment SLUG] [--claude PATH] [--backoff S] [--backoff-max S]
          [--max-per-hour N] [--reset-margin S] [--grace S] [--json] [-- CLAUDE FLAGS…]
Runs \`claude --agent autoloop -p "continue the autoloop experiment"\` and starts it again
(--resume, the loop's own conversation) whenever the session ends while the loop is still live;
a terminated experiment left unclosed gets one session of /autoloop:chain.`;

export interface UpOptions {
  help: boolean;
  json: boolean;
  cwd: string | undefined;
  experiment: string | undefined;
  claude: string;
  passThrough: string[];
  policy: Policy;
  graceS: number;
}

export function parseUpFlags(argv: readonly string[], env: NodeJS.ProcessEnv): UpOptions {
  const cut = argv.indexOf('--');
  const own = cut < 0 ? argv : argv.slice(0, cut);
  const passThrough = cut < 0 ? [] : argv.slice(cut + 1);
  const { values: f } = parseFlags(own, OPTIONS, Flags);
  for (const a of passThrough) {
    const name = a.split('=')[0]!;
    if (OWNED.includes(name)) throw new UsageError(`${name} is set by up itself; remove it from the flags after --`);
  }
  const base = f.backoff === undefined ? DEFAULT_POLICY.baseMs : f.backoff * 1000;
  const max = f['backoff-max'] === undefined ? Math.max(base, DEFAULT_POLICY.maxMs) : f['backoff-max'] * 1000;
  if (max < base) throw new UsageError('--backoff-max must not be below --backoff');
  return {
    help: f.help,
    json: f.json,
    cwd: f.cwd,
    experiment: f.experiment,
    claude: f.claude ?? (env.AUTOLOOP_CLAUDE || 'claude'),
    passThrough,
    graceS: f.grace,
    policy: {
      ...DEFAULT_POLICY,
      baseMs: base,
      maxMs: max,
      unknownResetMs: Math.max(max, base),
      perHour: f['max-per-hour'] ?? DEFAULT_POLICY.perHour,
      resetMarginMs: f['reset-margin'] === undefined ? DEFAULT_POLICY.resetMarginMs : f['reset-margin'] * 1000,
    },
  };
}
