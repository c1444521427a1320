// A whole segment through the pure decision code, as the engine drives it:
// a baseline run (planBaseline → calibrate), then candidate decisions
// (planDecision → learn, with each invocation's value and arm, as
// noise-state.ts's learnFromLine passes them), for any direction, any noise
// process and any sequence of true effects. Used by the adversarial sweep
// (test/noise-sweep.test.ts); the noise process sees every invocation in order,
// so drift, machine speed steps and noise-level changes act across decisions.
import { calibrate, deterministicRunsNeeded, emptyNoiseModel, invocationValue, learn, type NoiseModel } from '../../scripts/lib/noise-model.ts';
import { addTieDrift, addTieWalk, planBaseline, planDecision, type Decision, type Invocation, type TieDrift, type TieWalk } from '../../scripts/lib/sampling.ts';
import type { Direction } from '../../scripts/lib/schema.ts';
import { median } from '../../scripts/lib/stats.ts';

/** A noise process: the value one invocation prints for code whose true value is `level` (called in order). */
export type Noise = (level: number) => number[];

export type SessionOpts = {
  direction: Direction;
  metric?: string;
  noise: Noise;
  /** True value of the baseline code. */
  level: number;
  minImprovement?: number | string;
  budget_s?: number | null;
  cost_s?: number;
  confirm?: number;
  /** Guard the walk of successive ties since the last improvement (as the engine does); false: each tie alone. */
  tieDrift?: boolean;
  /**
   * Measure a simplification in a walk of ties against the walk's anchor (the last improvement), as the
   * engine does in git mode (run-plan.ts tieAnchor); false: against the best, the walk summed. Default: tieDrift.
   */
  anchor?: boolean;
  /** Hold an anchored walk to the sequential test over its attempts (sampling.ts walkHolds), as the engine does. Default: true. */
  walk?: boolean;
};

export type Outcome = { kept: boolean; decision: Decision; levelAfter: number; best: number; model: NoiseModel };

export class Session {
  model: NoiseModel;
  best: number;
  level: number;
  /** What the simplifications kept since the last improvement gave away, as the engine's state holds it. */
  drift: TieDrift | null = null;
  /** The walk's anchor: the last improvement's true level and stored centre. */
  anchor: { level: number; best: number } | null = null;
  /** The walk's anchored attempts (sampling.ts TieWalk). */
  walk: TieWalk | null = null;
  readonly baselineInvocations: number;
  constructor(private o: SessionOpts) {
    const inv: Invocation[] = [];
    const detRuns = deterministicRunsNeeded(o.metric ?? 'time_ms');
    do inv.push({ arm: 'candidate', samples: o.noise(o.level), duration_s: o.cost_s ?? 1 });
    while (planBaseline({ invocations: inv, model: emptyNoiseModel(), budget_s: o.budget_s ?? null, detRuns }));
    this.model = calibrate(emptyNoiseModel(), inv.map((i) => i.samples), { metric: o.metric ?? 'time_ms', costs_s: inv.map(() => o.cost_s ?? 1) });
    this.best = median(inv.map((i) => invocationValue(i.samples)));
    this.level = o.level;
    this.baselineInvocations = inv.length;
  }

  /**
   * One candidate whose true value is `candLevel`; a keep moves the best to it
   * (stored centre: its arm's median). `simplifies`: it removes lines, so a tie keeps it (verdict.ts).
   */
  decide(candLevel: number, simplifies = false): Outcome {
    const o = this.o;
    const inv: Invocation[] = [];
    const anchored = simplifies && (o.anchor ?? o.tieDrift !== false) && this.drift !== null && this.anchor !== null && !this.model.deterministic ? this.anchor : null;
    const refLevel = anchored ? anchored.level : this.level;
    for (;;) {
      const step = planDecision({
        direction: o.direction, model: this.model, invocations: inv, best: anchored ? anchored.best : this.best,
        minImprovement: o.minImprovement ?? 0, budget_s: o.budget_s ?? null, confirm: o.confirm ?? 2, simplifies,
        tieDrift: o.tieDrift === false || anchored ? null : this.drift,
        tieWalk: anchored && o.walk !== false ? this.walk : null,
      });
      if ('decision' in step) {
        const d = step.decision;
        const ran = inv.filter((i) => i.samples.length > 0);
        this.model = learn(this.model, {
          diffs: d.diffs, centre: d.effect, raw: inv.flatMap((i) => i.samples),
          values: ran.map((i) => invocationValue(i.samples)), arms: ran.map((i) => i.arm),
          noiseDiscovered: d.stop === 'noise-discovered' || d.noise_discovered === true,
          moved: d.keep,
        });
        const kept = d.keep || (simplifies && d.tie);
        if (anchored) this.walk = addTieWalk(this.walk, d);
        if (kept) {
          if (!d.keep && this.drift === null) this.anchor = { level: this.level, best: this.best };
          this.drift = d.keep ? null : anchored ? { effect: d.effect, variance: d.se * d.se } : addTieDrift(this.drift, d);
          if (d.keep) this.anchor = null;
          if (d.keep) this.walk = null;
          this.level = candLevel;
          this.best = median(inv.filter((i) => i.arm === 'candidate').map((i) => invocationValue(i.samples)));
        }
        return { kept, decision: d, levelAfter: this.level, best: this.best, model: this.model };
      }
      inv.push({ arm: step.next, samples: o.noise(step.next === 'best' ? refLevel : candLevel), duration_s: o.cost_s ?? 1 });
    }
  }

  /** The true value of a change `rel` better than the current best code (relative, or in units when `abs`). */
  better(rel: number, abs = false): number {
    const s = this.o.direction === 'lower' ? -1 : 1;
    return abs ? this.level + s * rel : this.level * (1 + s * rel * Math.sign(this.level || 1));
  }
}
