// Flag values shared by the commands that set an experiment's rules
// (init-experiment, chain): each says in its error what it accepts, since a
// union's own message ("Invalid input") names nothing.
import * as z from './zod.ts';

// A blank value (`--target "$UNSET"`) is refused: coerced, it would be 0.
const filled = z.string().check(z.refine((s) => s.trim() !== '', 'must be a number'));
export const numberFlag = z.pipe(
  z.pipe(filled, z.transform((s: string) => Number(s))),
  z.number({ error: 'must be a number' }).check(z.refine(Number.isFinite, 'must be a number')),
);
/** "none" switches a budget or setting off (null). */
export const noneFlag = z.pipe(z.literal('none'), z.transform(() => null));
export const countOrNone = z.union([noneFlag, z.coerce.number().check(z.int(), z.minimum(1))], { error: 'must be a whole number of at least 1, or none' });
export const numberOrNone = z.union([noneFlag, numberFlag], { error: 'must be a number, or none' });
export const repeatsFlag = z.union([z.literal('auto'), z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100))], { error: 'must be a whole number from 1 to 100, or auto' });
/** --min-improvement: a plain number (1e-3 too) or a percentage; `abc` or a blank was NaN or 0 once coerced. */
export const minImprovementFlag = z.string().check(z.regex(/^(?:\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\d+(?:\.\d+)?%)$/, 'must be a number >= 0 or a percentage such as "2%"'));
