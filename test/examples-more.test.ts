// The other half of the bundled examples' stories (test/helpers/examples.ts;
// examples.test.ts runs the first, so the halves run on different workers).
import { EXAMPLES, cleanUpAfterAll, storyTests } from './helpers/examples.ts';

cleanUpAfterAll();
storyTests(EXAMPLES.filter((_, i) => i % 2 === 1));
