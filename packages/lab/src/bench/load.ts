import { startWorker, type Worker } from './child.ts';
import type { LoadInput, LoadResult } from './workers/load.ts';

let worker: Worker | undefined;

/**
 * Runs autocannon in the load process (workers/load.ts, started on first use and kept for the
 * whole run, so that its start-up is paid once) and returns its summary.
 */
export async function runLoad(input: LoadInput): Promise<LoadResult> {
  worker ??= startWorker('load', {});
  await worker.started;
  return worker.call<LoadResult>({ cmd: 'load', input });
}

/** Ends the load process, if one was started. */
export function stopLoad(): void {
  worker?.stop();
  worker = undefined;
}
