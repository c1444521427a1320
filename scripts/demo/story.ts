// The story check, pure: what the engine's own output says happened at each
// step, compared with what the example's demo.yaml says must happen.
import type { TerminatedBy, Verdict } from '../lib/schema.ts';

/** A step's artifacts around its verdict, from the files (see artifacts.ts). */
export interface ArtifactsSeen {
  /** The best run when the step ran (the last keep before it), or null when there was none. */
  best: string | null;
  /** Files of the best's kept copy. */
  files: string[];
  /** Before the verdict, the tree held artifacts of the run's own (different from the best's copy). */
  ranOwn: boolean;
  /** Files of the best's copy the tree does not hold after the verdict. */
  differingAfter: string[];
}

export interface Observed {
  step: string;
  /** The run id log-experiment printed (`r0003`), or null. */
  runId: string | null;
  /** The verdict log-experiment printed (`r0003 DISCARD: …`), or null if none was printed. */
  verdict: Verdict | null;
  /** `STOP: terminated: target (…)` → "target"; null when the loop went on. */
  stoppedBy: string | null;
  /** `artifacts: the best's (r0002) are back in the tree` → "r0002"; null when not said. */
  artifactsFrom: string | null;
  artifacts?: ArtifactsSeen;
}

const VERDICT_LINE = /^(r\d+) (KEEP|DISCARD|CRASH|TIMEOUT|CHECKS_FAILED|INVALID):/m;
const STOP_LINE = /^STOP: terminated: ([a-z_]+)/m;
const ARTIFACTS_LINE = /^artifacts: the best's \((r\d+)\) are back in the tree/m;

/** Read one step's verdict, termination and restored artifacts from log-experiment's text output. */
export function observe(step: string, logOutput: string): Observed {
  const v = VERDICT_LINE.exec(logOutput);
  return {
    step,
    runId: v?.[1] ?? null,
    verdict: v ? (v[2]?.toLowerCase() as Verdict) : null,
    stoppedBy: STOP_LINE.exec(logOutput)?.[1] ?? null,
    artifactsFrom: ARTIFACTS_LINE.exec(logOutput)?.[1] ?? null,
  };
}

/** Why a step that must restore the best's artifacts did not show it; empty when it did. */
export function artifactMismatches(step: string, o: Observed): string[] {
  const a = o.artifacts;
  if (!a?.best) return [`${step}: no kept run to take the artifacts from`];
  if (!a.files.length) return [`${step}: the engine kept no artifacts for the best run (${a.best})`];
  const out: string[] = [];
  if (!a.ranOwn) out.push(`${step}: the run left the best's artifacts as they were (nothing to restore)`);
  if (o.artifactsFrom !== a.best) out.push(`${step}: the engine did not say it put ${a.best}'s artifacts back`);
  if (a.differingAfter.length) out.push(`${step}: after the verdict the tree does not hold ${a.best}'s artifacts (${a.differingAfter.join(', ')})`);
  return out;
}

/** Every way the observed steps differ from the story; empty when the story happened. */
export function storyMismatches(
  expected: readonly { name: string; expect: Verdict; artifactsRestored?: boolean }[],
  terminatedBy: TerminatedBy,
  seen: readonly Observed[],
): string[] {
  const out: string[] = [];
  expected.forEach((e, i) => {
    const o = seen[i];
    if (!o) out.push(`${e.name}: never ran (expected ${e.expect})`);
    else if (o.verdict !== e.expect) out.push(`${e.name}: ${o.verdict ?? 'no verdict'} (expected ${e.expect})`);
    if (o && e.artifactsRestored) out.push(...artifactMismatches(e.name, o));
    const last = i === expected.length - 1;
    if (o && !last && o.stoppedBy) out.push(`${e.name}: the loop stopped early (${o.stoppedBy})`);
    if (o && last && o.stoppedBy !== terminatedBy) out.push(`${e.name}: ${o.stoppedBy ? `terminated by ${o.stoppedBy}` : 'the loop did not terminate'} (expected ${terminatedBy})`);
  });
  return out;
}
