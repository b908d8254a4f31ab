/**
 * Readiness of the instances `npm start` started. Each instance gets the run's token
 * (`CLUSTER_RUN_ID`) and reports it on `/readyz` (`run`): an answer without it comes from a
 * process this run did not start, e.g. another cluster on the same port.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** What one `/readyz` said: ready, not yet (starting, or not listening), or someone else. */
export type Readiness =
  | { state: 'ready' }
  | { state: 'pending' }
  | { state: 'foreign'; detail: string };

/**
 * Asks `url`/readyz once (1 s timeout) and compares its `run` with `runId`. With
 * `requireTrustedL1`, an instance that answers 200 but does not trust its L1 yet (`l1:
 * "untrusted"`: not subscribed, or its own heartbeat not back) is still pending.
 */
export async function checkReadiness(
  url: string,
  runId: string,
  options: { requireTrustedL1?: boolean } = {},
): Promise<Readiness> {
  let res: Response;
  try {
    res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
  } catch {
    return { state: 'pending' };
  }
  const text = await res.text().catch(() => '');
  let run: unknown;
  let l1: unknown;
  try {
    ({ run, l1 } = JSON.parse(text) as { run?: unknown; l1?: unknown });
  } catch {
    return { state: 'foreign', detail: `something else answers there (HTTP ${res.status})` };
  }
  if (run !== runId) {
    const who = typeof run === 'string' ? `run ${run}` : 'no run token';
    return { state: 'foreign', detail: `an instance of another cluster answers there (${who})` };
  }
  if (options.requireTrustedL1 && l1 === 'untrusted') return { state: 'pending' };
  return res.ok ? { state: 'ready' } : { state: 'pending' };
}

/** The outcome of {@link waitUntilReady}. */
export interface ReadyOutcome {
  /** URLs that never answered ready. */
  pending: string[];
  /** URLs answered by a process of another run, with what answered. */
  foreign: { url: string; detail: string }[];
}

/**
 * Polls every URL until all are ready (with `requireTrustedL1`, trusting their L1 too), one
 * answers as a foreign process, `stopped()` turns true or `deadlineMs` passes.
 */
export async function waitUntilReady(
  urls: string[],
  runId: string,
  options: { deadlineMs: number; stopped: () => boolean; requireTrustedL1?: boolean },
): Promise<ReadyOutcome> {
  const deadline = Date.now() + options.deadlineMs;
  let pending = urls;
  while (pending.length > 0 && !options.stopped() && Date.now() < deadline) {
    const answers = await Promise.all(pending.map((url) => checkReadiness(url, runId, options)));
    const foreign = answers.flatMap((answer, i) =>
      answer.state === 'foreign' ? [{ url: pending[i] as string, detail: answer.detail }] : [],
    );
    if (foreign.length > 0) return { pending, foreign };
    pending = pending.filter((_, i) => answers[i]?.state !== 'ready');
    if (pending.length > 0) await sleep(250);
  }
  return { pending, foreign: [] };
}
