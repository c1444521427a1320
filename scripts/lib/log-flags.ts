// The flags that describe a change, shared by log-experiment and the one-call
// form of run-experiment (run-experiment --description): one definition, so the
// two forms accept and refuse the same text.
import * as z from './zod.ts';
import { oneLine } from './flag-values.ts';

export const DESCRIBE_OPTIONS = {
  description: { type: 'string', short: 'd' },
  hypothesis: { type: 'string' },
  evidence: { type: 'string', multiple: true },
} as const;

export const DescribeFlags = {
  // One line each: they are shown on one-line outputs and in the report's Markdown.
  description: z.optional(z.string().check(oneLine(), z.minLength(1, 'must describe the change'), z.maxLength(500, 'at most 500 characters: name the change in a sentence (the why goes in --hypothesis, up to 1000, or in program.md)'))),
  hypothesis: z.optional(z.string().check(oneLine(), z.maxLength(1000, 'at most 1000 characters: the longer reasoning goes in program.md or an --evidence file'))),
  evidence: z.optional(z.array(z.string().check(z.minLength(1, 'must be FILE or FILE:WHAT'))).check(z.maxLength(20))),
};
