// A pre-started engine evaluates an entry's bundle before its call (boot/hold.ts):
// main() must then wait to be started, and a plain CLI start must run at once.
import { describe, expect, it } from 'vitest';
import { handedOver, holding, warmAhead } from '../scripts/lib/boot/hold.ts';
import { main } from '../scripts/lib/cli.ts';

describe('a main held for a pre-started engine', () => {
  it('does not run while held, and runs with the argv current when it is started', async () => {
    const seen: string[][] = [];
    const held = holding(() => main('held-test', (argv) => void seen.push(argv)));
    expect(held.start).toBeTypeOf('function');
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([]);
    const before = process.argv;
    const code = process.exitCode;
    try {
      process.argv = [process.execPath, 'entry.mjs', '--the-call'];
      held.start!();
      await new Promise((r) => setImmediate(r));
    } finally {
      process.argv = before;
      process.exitCode = code;
    }
    expect(seen).toEqual([['--the-call']]);
  });

  it('collects the work modules offer ahead only while held; outside, a start is not handed over', () => {
    let ran = 0;
    warmAhead(() => void ran++); // a plain start: dropped
    const held = holding(() => {
      warmAhead(() => void ran++);
      warmAhead(() => void ran++);
    });
    expect(held.start).toBeNull();
    expect(held.warm).toHaveLength(2);
    expect(ran).toBe(0);
    for (const w of held.warm) w();
    expect(ran).toBe(2);
    expect(handedOver(() => undefined)).toBe(false);
  });

  it('takes the holder away even when the evaluation throws', () => {
    expect(() => holding(() => { throw new Error('top level failed'); })).toThrow('top level failed');
    expect(handedOver(() => undefined)).toBe(false);
  });
});
