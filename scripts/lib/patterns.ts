// Name rules, free of imports so the smallest bundles (status line) can use them.
export const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
// Metric names: word characters, dots, dashes and µ (as benchmarks print them).
export const METRIC_NAME = /^[A-Za-z_µ][\w.µ-]{0,63}$/;
/** What METRIC_NAME accepts, for messages. */
export const METRIC_NAME_RULE = 'a letter or _, then letters, digits, _ . - or µ (64 at most)';
export const RUN_ID = /^r\d{4,}$/;
