// Runs in every test file: its temporary folders go when the file ends.
import { afterAll } from 'vitest';
import { cleanupTmp } from './helpers/tmp.ts';

afterAll(cleanupTmp);
