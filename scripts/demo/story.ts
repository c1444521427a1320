// The story check, pure: what the engine's own output says happened at each
// step, compared with what the example's demo.yaml says must happen.
import type { TerminatedBy, Verdict } from '../lib/schema.ts';

export interface Observed {
  step: string;
  /** The verdict log-experiment printed (`r0003 DISCARD: …`), or null if none was printed. */
  verdict: Verdict | null;
  /** `STOP: terminated: target (…)` → "target"; null when the loop went on. */
  stoppedBy: string | null;
}

const VERDICT_LINE = /^r\d+ (KEEP|DISCARD|CRASH|TIMEOUT|CHECKS_FAILED|INVALID):/m;
const STOP_LINE = /^STOP: terminated: ([a-z_]+)/m;

/** Read one step's verdict and termination from log-experiment's text output. */
export function observe(step: string, logOutput: string): Observed {
  const v = VERDICT_LINE.exec(logOutput)?.[1];
  const s = STOP_LINE.exec(logOutput)?.[1];
  return { step, verdict: v ? (v.toLowerCase() as Verdict) : null, stoppedBy: s ?? null };
}

/** Every way the observed steps differ from the story; empty when the story happened. */
export function storyMismatches(
  expected: readonly { name: string; expect: Verdict }[],
  terminatedBy: TerminatedBy,
  seen: readonly Observed[],
): string[] {
  const out: string[] = [];
  expected.forEach((e, i) => {
    const o = seen[i];
    if (!o) out.push(`${e.name}: never ran (expected ${e.expect})`);
    else if (o.verdict !== e.expect) out.push(`${e.name}: ${o.verdict ?? 'no verdict'} (expected ${e.expect})`);
    const last = i === expected.length - 1;
    if (o && !last && o.stoppedBy) out.push(`${e.name}: the loop stopped early (${o.stoppedBy})`);
    if (o && last && o.stoppedBy !== terminatedBy) out.push(`${e.name}: ${o.stoppedBy ? `terminated by ${o.stoppedBy}` : 'the loop did not terminate'} (expected ${terminatedBy})`);
  });
  return out;
}
