// The engine's zod: zod/mini, the tree-shakable build of the same zod v4 the
// hooks use. Classic zod cannot be tree-shaken (every schema method and all 40
// locales land in the bundle): it made up some 450 KB of each 700 KB entry
// point and most of its start-up time (bench/engine.ts prints both).
// zod/mini has no default locale: English is set here, once, so every message
// reads as classic zod's did. Import as `import * as z from './zod.ts'`.
import { en } from 'zod/locales';
import { config } from 'zod/mini';

config(en());

export * from 'zod/mini';
