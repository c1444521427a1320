// A follow-up must not undo its parent: it inherits the parent's guardrails
// and, when it optimises another metric, guards the parent's primary at the
// value the parent reached (the child's baseline is the parent's best code,
// and guardrails are judged against the baseline). Only flags given in the
// rationale's command drop one (--drop-guardrail NAME), and the drop is
// recorded in the chain decision and the chain event. Pure.
import type { Config, Guardrail } from './schema.ts';
import { UsageError } from './errors.ts';

export interface ChainGuardrails {
  guardrails: Guardrail[];
  /** Parent guardrails (or the parent's primary guard) dropped by --drop-guardrail. */
  dropped: string[];
}

/** The parent's primary as a guardrail: no regression beyond noise from the child's baseline. */
export function parentPrimaryGuard(parent: Config): Guardrail {
  return { metric: parent.metric, direction: parent.direction, max_regression_pct: 0 };
}

export function childGuardrails(o: { parent: Config; childMetric: string; added: readonly Guardrail[]; drop: readonly string[] }): ChainGuardrails {
  const inherited = o.parent.guardrails.filter((g) => g.metric !== o.childMetric);
  if (o.parent.metric !== o.childMetric) inherited.push(parentPrimaryGuard(o.parent));
  const known = new Set([...inherited, ...o.added].map((g) => g.metric));
  const unknown = o.drop.filter((m) => !known.has(m));
  if (unknown.length) throw new UsageError(`--drop-guardrail ${unknown[0]}: the follow-up has no such guardrail (it has: ${[...known].join(', ') || 'none'})`);
  const byMetric = new Map<string, Guardrail>();
  // Flags given for the child replace an inherited guardrail on the same metric.
  for (const g of [...inherited, ...o.added]) byMetric.set(g.metric, g);
  const dropped = [...new Set(o.drop)];
  for (const m of dropped) byMetric.delete(m);
  return { guardrails: [...byMetric.values()], dropped };
}
