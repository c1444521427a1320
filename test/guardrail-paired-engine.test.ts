// A timing guardrail on a machine that got slower (the whole machine, both the
// best and the candidate) is judged against the best measured beside the
// candidate, as the primary is (guardrail-pairing.ts), not the baseline's
// stale samples: before, every change after the slowdown was blocked
// ("guardrail time_ms 130 > 105 allowed"), however fast. A real regression of
// the guardrail on the slower machine is still blocked, and the tolerance is
// not given away by a keep made on the slower machine.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { engine, ledger, makeRepo, step } from './helpers/engine.ts';

const SLOW = 600_000;

// score (the primary) from src/value.txt with a 1% jitter per invocation; time_ms is 100 × the machine's speed
// factor (a file outside the repository, read by both trees) × src/cost.txt, with a 0.5% jitter; with `size`,
// size_kb from src/size.txt too. A shell benchmark of builtins (the subject is the engine's pairing, not the
// benchmark; a node start a sample cost far more): the same values, in fixed point, as the node one it replaced
// (h = (h × 31 + char) mod 2^32 over "run:sample:arm"; factors with one decimal place at most).
const bench = (machine: string, size = false) => `# rd VAR FILE DEFAULT: the file's first line (trimmed), else the default.
rd() { eval "$1=\\$3"; if [ -f "$2" ]; then read -r "$1" < "$2"; fi; return 0; }
# tenths N: N (a whole number or one decimal place) times 10, in t.
tenths() { case $1 in *.?) t=$(( \${1%.*} * 10 + \${1#*.} ));; *.*) echo "bench.sh: one decimal place at most: $1" >&2; exit 2;; *) t=$(( $1 * 10 ));; esac; }
# dec X P: X / P (P a power of ten) with its decimals, in d.
dec() { i=$(( $1 / $2 )) f=$(( $1 % $2 + $2 )); d=$i.\${f#1}; }
s="\${AUTOLOOP_RUN:-}:\${AUTOLOOP_SAMPLE:-1}:\${AUTOLOOP_ARM:-}" h=7
# ord C: C's character code in o, without a $(printf) subshell per character (a fork each, ~15 a sample).
az=abcdefghijklmnopqrstuvwxyz
ord() { case $1 in [0-9]) o=$(( 48 + $1 ));; :) o=58;; [a-z]) p=\${az%%"$1"*}; o=$(( 97 + \${#p} ));; *) o=$(printf %d "'$1");; esac; }
while [ -n "$s" ]; do r=\${s#?}; c=\${s%"$r"}; ord "$c"; h=$(( (h * 31 + o) & 4294967295 )); s=$r; done
j=$(( h % 21 - 10 )) k=$(( (h >> 8) % 21 - 10 ))
rd slow '${machine}' 1; tenths "$slow"; slow=$t
rd cost src/cost.txt 1; tenths "$cost"; cost=$t
rd value src/value.txt 100
${size ? 'rd size src/size.txt 100; echo "METRIC size_kb=$size"\n' : ''}dec $(( value * (1000 + j) )) 1000; echo "METRIC score=$d"
dec $(( slow * cost * (2000 + k) * 5 )) 10000; echo "METRIC time_ms=$d"
`;

describe('a guardrail on a machine that got slower', () => {
  it('is judged against the best measured now: a faster change is kept; a real 20% regression is still blocked', () => {
    const machine = path.join(os.tmpdir(), `autoloop-machine-${randomUUID()}`);
    try {
      const dir = makeRepo({ 'bench.sh': bench(machine), 'src/value.txt': '100', 'src/cost.txt': '1' });
      const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--guardrail', 'time_ms:lower:5%', '--json'], dir);
      expect(init.code, init.stderr).toBe(0);
      expect(step(dir, 'baseline').verdict).toBe('keep');
      // The whole machine is 30% slower from now on, for the best's tree and the candidate alike.
      fs.writeFileSync(machine, '1.3');
      fs.writeFileSync(path.join(dir, 'src/value.txt'), '80');
      const kept = step(dir, 'faster, same cost');
      expect(kept.verdict, String(kept.reason)).toBe('keep');
      // A second keep on the slower machine starts from the first one's stored values, not from raw slow ones.
      fs.writeFileSync(path.join(dir, 'src/value.txt'), '64');
      const again = step(dir, 'faster again, same cost');
      expect(again.verdict, String(again.reason)).toBe('keep');
      // Faster on the primary but 20% more time on the guardrail, on the slower machine: still blocked.
      fs.writeFileSync(path.join(dir, 'src/value.txt'), '50');
      fs.writeFileSync(path.join(dir, 'src/cost.txt'), '1.2');
      const costly = step(dir, 'faster, 20% more time');
      expect(costly.verdict).toBe('discard');
      expect(String(costly.reason)).toMatch(/^guardrail time_ms 1[12]\d(\.\d+)? > 10[45](\.\d+)? allowed/);
      // The status line judges the best as its keep did: no guardrail over.
      const status = engine('status', ['--json'], dir);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.stringify(status.json)).not.toMatch(/OVER/);
    } finally {
      fs.rmSync(machine, { force: true });
    }
  }, SLOW);
});

describe('a deterministic primary with a timing guardrail on a machine that got slower', () => {
  it('measures the best beside the candidate only when the guardrail would block, and keeps a smaller size', () => {
    const machine = path.join(os.tmpdir(), `autoloop-machine-${randomUUID()}`);
    try {
      // size_kb (deterministic) from src/size.txt; time_ms as above.
      const dir = makeRepo({ 'bench.sh': bench(machine, true), 'src/value.txt': '100', 'src/cost.txt': '1', 'src/size.txt': '100' });
      const init = engine('init-experiment', ['--name', 'exp', '--metric', 'size_kb', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--guardrail', 'time_ms:lower:5%', '--json'], dir);
      expect(init.code, init.stderr).toBe(0);
      expect(step(dir, 'baseline').verdict).toBe('keep');
      fs.writeFileSync(path.join(dir, 'src/size.txt'), '90');
      const fast = step(dir, 'smaller, same machine');
      expect(fast.verdict, String(fast.reason)).toBe('keep');
      const arms = (l: Record<string, unknown>) => (l.invocations as { arm: string }[]).map((i) => i.arm);
      const results = () => ledger(dir).filter((l) => l.type === 'result');
      expect(arms(results().at(-1) as Record<string, unknown>)).not.toContain('best'); // no breach: no extra sample
      fs.writeFileSync(machine, '1.3');
      fs.writeFileSync(path.join(dir, 'src/size.txt'), '80');
      const slower = step(dir, 'smaller, slower machine');
      expect(slower.verdict, String(slower.reason)).toBe('keep');
      expect(arms(results().at(-1) as Record<string, unknown>)).toContain('best');
      fs.writeFileSync(path.join(dir, 'src/size.txt'), '70');
      fs.writeFileSync(path.join(dir, 'src/cost.txt'), '1.2');
      const costly = step(dir, 'smaller, 20% more time');
      expect(costly.verdict).toBe('discard');
      expect(String(costly.reason)).toMatch(/^guardrail time_ms/);
    } finally {
      fs.rmSync(machine, { force: true });
    }
  }, SLOW);
});
