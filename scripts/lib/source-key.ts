// Which engine source a bundle was built from: scripts/build.mjs defines
// __AUTOLOOP_SOURCE__ as a hash of every engine source file and of the zod it
// bundles. A cache of an already validated value (config.parsed.json) is
// trusted only by a bundle of the same source: the same schemas validated it.
// Run from the sources (tsx, tests) there is no key, and nothing is trusted.
declare const __AUTOLOOP_SOURCE__: string | undefined;

export const SOURCE_KEY: string | null = typeof __AUTOLOOP_SOURCE__ === 'string' ? __AUTOLOOP_SOURCE__ : null;

/**
 * A 53-bit checksum of a string (cyrb53, not cryptographic): it tells a copy
 * the engine wrote from one damaged or edited by hand, without loading
 * node:crypto before the call's first git process (config.ts says why).
 */
export function checksum(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}
