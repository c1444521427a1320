// Name rules, free of imports so the smallest bundles (status line) can use them.
export const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
// Metric names: word characters, dots, dashes and µ (as benchmarks print them).
export const METRIC_NAME = /^[A-Za-z_µ][\w.µ-]{0,63}$/;
export const RUN_ID = /^r\d{4,}$/;
