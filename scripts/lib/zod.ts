// The engine's zod: zod/mini, the tree-shakable build of the same zod v4 the
// hooks use. Classic zod cannot be tree-shaken (every schema method and all 40
// locales land in the bundle): it made up some 450 KB of each 700 KB entry
// point and most of its start-up time (bench/engine.ts prints both).
// zod/mini has no default locale: English is set here, once, so every message
// reads as classic zod's did. Import as `import * as z from './zod.ts'`.
import { en } from 'zod/locales';
import { config } from 'zod/mini';
import { countIo } from './iocount.ts';
import { warmAhead } from './boot/hold.ts';

config(en());

export * from 'zod/mini';

const built = new Set<string>();

/** The named lazy schemas built so far in this process (the tests: what a call never needs is never built). */
export function builtSchemas(): ReadonlySet<string> {
  return built;
}

/**
 * A schema built the first time it is used (parsed, composed into another
 * schema, inspected), then kept: `export const Config = lazySchema(() => z.strictObject({…}))`.
 * Building every schema of every imported module when a bundle loads was most
 * of an engine call's start-up, though a call uses a few of them. What it
 * returns stands for the schema in every way (same type, same members, zod
 * takes it inside other schemas), so `z.infer<typeof Config>` is unchanged.
 * Used for composite schemas (objects, unions, pipes) and for the fields only
 * they use; the small leaves most calls need (enums, names) stay plain.
 */
export function lazySchema<T extends object>(build: () => T, name?: string): T {
  let schema: T | undefined;
  const make = (): T => (schema ??= build());
  const real = (): T => {
    if (schema) return schema;
    countIo('schema');
    if (name) built.add(name);
    return make();
  };
  // A pre-started engine builds it before its call, off the call's clock (uncounted: not the call's work).
  warmAhead(make);
  // Every question about the stand-in goes to the real schema. The target is an
  // empty object only to satisfy the Proxy API: the traps never consult it.
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(real(), key),
    set: (_, key, value) => Reflect.set(real(), key, value),
    has: (_, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    // Reported configurable: a Proxy may not claim a fixed property its (empty) target lacks.
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(real(), key);
      return d && { ...d, configurable: true };
    },
    defineProperty: (_, key, d) => Reflect.defineProperty(real(), key, d),
    deleteProperty: (_, key) => Reflect.deleteProperty(real(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(real()),
  });
}
