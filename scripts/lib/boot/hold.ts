// A pre-started engine (zygote.ts) evaluates an entry point's bundle before its
// call arrives: the modules' top level runs ahead, off the call's clock. The
// entry's main() (cli.ts) must not start then (argv, cwd and environment are
// not the call's yet): it hands its start to the holder that the zygote put in
// place, and the zygote starts it once the call has been taken on. The two
// sides live in different bundles, so they meet through a registered symbol.
const HOLD = Symbol.for('autoloop.hold-main');

type Start = () => void;
/** The entry's command itself (what main() runs with the call's argv): a rehearsal runs it on a scratch repository (rehearsal.ts). */
export type Command = (argv: string[]) => unknown;
interface Holder {
  start: Start | null;
  command: Command | null;
  /** Pure work the modules offer to do ahead (building their schemas): no I/O, no process state. */
  warm: (() => void)[];
}
type Slots = Record<symbol, Holder | undefined>;

const holder = (): Holder | undefined => (globalThis as unknown as Slots)[HOLD];

/** From main(): hand `start` to a waiting holder (true), or run now (false: a plain CLI start). */
export function handedOver(start: Start, command: Command | null = null): boolean {
  const h = holder();
  if (!h) return false;
  h.start = start;
  h.command = command;
  return true;
}

/** From a module's top level: work a pre-started engine may do before its call (pure). Dropped in a plain CLI start. */
export function warmAhead(work: () => void): void {
  holder()?.warm.push(work);
}

/** Run `evaluate` with a holder in place: the start its main() handed over (null if none did), and the work offered ahead. */
export function holding(evaluate: () => void): Holder {
  const slots = globalThis as unknown as Slots;
  const h: Holder = { start: null, command: null, warm: [] };
  slots[HOLD] = h;
  try {
    evaluate();
  } finally {
    delete slots[HOLD];
  }
  return h;
}
