// The environment every test worker, and each process it starts, inherits.
// Runs after the set-ups that may download (the pinned CLI in
// test/e2e/global-setup.ts), before any test file.
//
// NODE_EXTRA_CA_CERTS: Node reads and parses the whole certificate file at
// every start (measured here with Debian's bundle: a bare `node -e 0` costs
// 3× its CPU with it). The suite starts thousands of Node processes (engine
// calls, benchmark samples, demos) that open no TLS connection, so the workers
// do not pass it on; the one test step that downloads (test/helpers/tools.ts's
// npm install) gets it back from AUTOLOOP_TEST_CA_CERTS. The CLI sessions never
// had it (test/e2e/claude-cli.ts's cliEnv keeps a short list), nor the hooks
// (hooks/run.sh unsets it).
export const CA_CERTS_KEPT_AS = 'AUTOLOOP_TEST_CA_CERTS';

export default function setup(): void {
  const certs = process.env.NODE_EXTRA_CA_CERTS;
  if (certs === undefined) return;
  process.env[CA_CERTS_KEPT_AS] = certs;
  delete process.env.NODE_EXTRA_CA_CERTS;
}

/** The environment for a child that downloads: the certificates the suite was started with. */
export function downloadEnv(): NodeJS.ProcessEnv {
  const certs = process.env[CA_CERTS_KEPT_AS];
  return certs === undefined ? process.env : { ...process.env, NODE_EXTRA_CA_CERTS: certs };
}
