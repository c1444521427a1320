// The yaml package, loaded on first use. run-experiment and log-experiment (two
// Node starts per iteration) read config.yaml through its parsed copy
// (config.ts) and never need the YAML parser, whose evaluation was a tenth of
// their start-up (bench/engine.ts). In a bundle, esbuild turns the require
// below into its own copy of yaml, evaluated when first called (the bundle's
// banner gives the ES module a require); from source (tsx, vitest), Node's
// require loads the package.
import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');
let loaded: Yaml | undefined;

export function yaml(): Yaml {
  loaded ??= (typeof require === 'function' ? require('yaml') : createRequire(import.meta.url)('yaml')) as Yaml;
  return loaded;
}
