// Running the configured gates (gates.ts decides order and meaning): hard
// gates fastest first BEFORE the first benchmark invocation, so a broken
// change costs no sample; then the soft gates, whose failure (or a printed
// number past its threshold) blocks the keep but keeps the measurement.
import type { Gate, GateRun } from '../schema.ts';
import { judgeGate, planGates } from '../gates.ts';
import type { RunResult } from '../runners/index.ts';
import { buildSources, readSample } from '../sources/index.ts';

export type StepFn = (command: string, timeoutS: number, header: string) => Promise<RunResult>;

export interface GatesResult {
  runs: GateRun[];
  /** A hard gate failed: the run is checks_failed with this reason, before any sample. */
  reject: { reason: string; tail: string } | null;
  softFailures: string[];
  interrupted: boolean;
}

/** The numbers a gate printed as METRIC lines (last value of each). */
async function gateMetrics(r: RunResult, logFile: string, cwd: string, startedAtMs: number): Promise<Record<string, number>> {
  const reading = await readSample(buildSources(undefined), { cwd, log: { file: logFile, ...r.log }, startedAtMs });
  return Object.fromEntries(Object.entries(reading.metrics).map(([k, vs]) => [k, vs[vs.length - 1] as number]));
}

export async function runGates(o: {
  gates: readonly Gate[];
  lastSeconds: Readonly<Record<string, number>>;
  step: StepFn;
  logFile: string;
  cwd: string;
  runId: string;
}): Promise<GatesResult> {
  const out: GatesResult = { runs: [], reject: null, softFailures: [], interrupted: false };
  if (!o.gates.length) return out;
  const plan = planGates(o.gates, o.lastSeconds, false);
  for (const g of [...plan.before, ...plan.soft]) {
    const startedAtMs = Date.now();
    const r = await o.step(g.command, g.timeout, `== ${o.runId} gate ${g.name} (${g.kind}): ${g.command}`);
    if (r.interrupted) return { ...out, interrupted: true };
    const metrics = r.exitCode === 0 && g.threshold ? await gateMetrics(r, o.logFile, o.cwd, startedAtMs) : {};
    const v = judgeGate(g, { name: g.name, exitCode: r.exitCode, timedOut: r.timedOut, metrics });
    const reason = v.effect === 'pass' ? null : v.reason;
    out.runs.push({ name: g.name, kind: g.kind, passed: v.effect === 'pass', duration_s: Number(r.durationS.toFixed(3)), reason });
    if (v.effect === 'reject') return { ...out, reject: { reason: v.reason, tail: r.tail } };
    if (v.effect === 'block_keep') out.softFailures.push(v.reason);
  }
  return out;
}
