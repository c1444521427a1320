// The --guardrail flag of init-experiment and chain, one syntax for both:
//   NAME:DIR:PCT            relative tolerance against the baseline (5 = 5%)
//   NAME:DIR:abs=X          absolute tolerance, in the metric's unit
//   NAME:DIR:limit=X        absolute limit (lint_issues:lower:limit=12)
// Several bounds may be joined with commas: size_kb:lower:5,limit=200.
import * as z from './zod.ts';

const NUM = String.raw`-?\d+(?:\.\d+)?`;
const BOUND = String.raw`(?:\d+(?:\.\d+)?%?|abs=\d+(?:\.\d+)?|limit=${NUM})`;
export const GUARDRAIL_FLAG = new RegExp(String.raw`^[^:]+:(lower|higher):${BOUND}(?:,${BOUND})*$`);
export const GuardrailFlag = z.string().check(z.regex(GUARDRAIL_FLAG, 'must be NAME:lower|higher:PCT (or abs=X, limit=X, comma-separated)'));

/** One flag value as a config guardrail (validated by the Config schema afterwards). */
export function guardrailFromFlag(flag: string): Record<string, unknown> {
  const [metric, direction, bounds = ''] = flag.split(':');
  const g: Record<string, unknown> = { metric, direction };
  for (const b of bounds.split(',')) {
    if (b.startsWith('abs=')) g.max_regression_abs = Number(b.slice(4));
    else if (b.startsWith('limit=')) g.limit = Number(b.slice(6));
    else g.max_regression_pct = Number(b.replace(/%$/, ''));
  }
  return g;
}
