// Flag values shared by the commands that set an experiment's rules
// (init-experiment, chain): each says in its error what it accepts, since a
// union's own message ("Invalid input") names nothing. Built on first use: the
// engine's hot bundles load this module (log-flags.ts) and use none of them.
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import { sanitizeLine } from './sanitize.ts';

/** A value with something in it: coerce reads '' (an unset shell variable, `--target "$T"`) as 0. */
const filled = (message: string) => z.string().check(z.refine((s) => s.trim() !== '', message));
export const numberFlag = lazySchema(() => z.pipe(filled('must be a number'), z.coerce.number<string>({ error: 'must be a number' }).check(z.refine(Number.isFinite, 'must be a number'))));
/** A whole number of at least `min`. */
export const wholeFlag = (min: number) => z.pipe(filled('must be a whole number'), z.coerce.number<string>({ error: 'must be a whole number' }).check(z.int(), z.minimum(min)));
/** "none" switches a budget or setting off (null). */
export const noneFlag = lazySchema(() => z.pipe(z.literal('none'), z.transform(() => null)));
export const countOrNone = lazySchema(() => z.union([noneFlag, z.coerce.number().check(z.int(), z.minimum(1))], { error: 'must be a whole number of at least 1, or none' }));
export const numberOrNone = lazySchema(() => z.union([noneFlag, numberFlag], { error: 'must be a number, or none' }));
export const repeatsFlag = lazySchema(() => z.union([z.literal('auto'), z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100))], { error: 'must be a whole number from 1 to 100, or auto' }));
/** --min-improvement: a plain number (1e-3 too) or a percentage; `abc` or a blank was NaN or 0 once coerced. */
export const minImprovementFlag = lazySchema(() => z.string().check(z.regex(/^(?:\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\d+(?:\.\d+)?%)$/, 'must be a number >= 0 or a percentage such as "2%"')));

// eslint-disable-next-line no-control-regex
const NOT_ONE_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;
/** --unit, printed after every number on one-line outputs and in the report: a line break or control character is refused. */
export const unitFlag = lazySchema(() => z.string().check(z.refine((s) => !NOT_ONE_LINE.test(s), 'must be one line without control characters')));
export const isOneLine = (s: string): boolean => !NOT_ONE_LINE.test(s);
/** Prose meant for one line (--goal, --description, --hypothesis): line breaks become spaces, control characters go. */
export const oneLine = () => z.overwrite((s: string) => sanitizeLine(s).trim());
