// The server's tools: one per hot engine command, each taking the CLI's own
// arguments as one string array (the flags the model already knows from the
// skill; the CLI's zod schemas validate them, as on the command line).
import * as z from '../zod.ts';
import type { ZygoteEntry } from '../boot/zygote.ts';

interface Tool {
  name: string;
  entry: ZygoteEntry;
  description: string;
}

export const TOOLS: readonly Tool[] = [
  {
    name: 'run',
    entry: 'run-experiment',
    description:
      'run-experiment: with --description "<what changed>" (the ordinary iteration) measure the working tree, keep it (a commit) or revert it, and log the result in one call; without it, only measure (then log). args: its flags, e.g. ["--description", "unrolled the inner loop"].',
  },
  { name: 'log', entry: 'log-experiment', description: 'log-experiment: log the last run (keep or discard) after a separate run. args: its flags, e.g. ["--description", "…"].' },
  { name: 'status', entry: 'status', description: 'status: the experiment\'s state and what to do next. args: its flags, e.g. [] or ["--json"].' },
];

const inputSchema = {
  type: 'object',
  properties: { args: { type: 'array', items: { type: 'string' }, description: 'The command-line arguments, one per element (no shell quoting).' } },
  additionalProperties: false,
};

/** tools/list's answer. */
export const toolList = (): unknown => ({ tools: TOOLS.map((t) => ({ name: t.name, description: t.description, inputSchema })) });

const Input = z.strictObject({ args: z.optional(z.array(z.string())) });

/** The call a tools/call names, or one line saying what is wrong with it. */
export function toolCall(params: Record<string, unknown> | undefined): { entry: ZygoteEntry; argv: string[]; name: string } | { error: string; known: boolean } {
  const tool = TOOLS.find((t) => t.name === params?.name);
  if (!tool) return { error: `unknown tool ${JSON.stringify(params?.name ?? null)} (tools: ${TOOLS.map((t) => t.name).join(', ')})`, known: false };
  const r = Input.safeParse(params?.arguments ?? {});
  if (!r.success) return { error: `${tool.name}: arguments must be {"args": ["--flag", "value", …]} (strings only)`, known: true };
  return { entry: tool.entry, argv: r.data.args ?? [], name: tool.name };
}

/** How the call ended. */
export interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** The tool's result: the CLI's output as it printed it, and its exit status when not 0 (an error result). */
export function toolResult(o: Outcome): { content: { type: 'text'; text: string }[]; isError: boolean } {
  const failed = o.code !== 0;
  const status = o.code === null ? `killed by ${o.signal ?? 'a signal'}` : `exit ${o.code}`;
  const text = `${o.stdout}${o.stderr}${failed ? `${o.stdout || o.stderr ? '' : '(no output) '}${status}\n` : ''}`;
  return { content: [{ type: 'text', text }], isError: failed };
}
