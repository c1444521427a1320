// Every hook event without the loader (`tsx hooks/src/hooks.ts <event>`): the same work as dist/hooks.cjs.
import { readInput } from './main.ts';
import { run } from './bundles/all.ts';

run(readInput());
