// The config's `sources` entries, validated at the config boundary. A new
// source adds its spec (an object with a literal `type`) to the union.
import { z } from 'zod';

export const MetricLinesSpec = z.object({ type: z.literal('metric-lines') }).strict();

/** One entry of config `sources`. */
export const SourceSpec = z.discriminatedUnion('type', [MetricLinesSpec]);
export type SourceSpec = z.infer<typeof SourceSpec>;
