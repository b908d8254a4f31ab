import { Agent, request } from 'node:http';

/** One answer, with the time it took. `status` 0: no answer (connection error or timeout). */
export interface Timed {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body, or `undefined` (no body, not JSON, or no answer). */
  body: unknown;
  ms: number;
  /** Why there was no answer, when `status` is 0. */
  error?: string;
}

/** An HTTP client over a keep-alive agent, for loads that must not pay a handshake per request. */
export interface HttpClient {
  /** Sends one request, never rejects: a failure or a timeout comes back as status 0. */
  send(
    method: string,
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Timed>;
  /** Closes the pooled connections. */
  close(): void;
}

/** Creates a client holding at most `maxSockets` connections per host, each request bounded. */
export function createHttpClient(
  options: { maxSockets?: number; timeoutMs?: number } = {},
): HttpClient {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 16 });
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    send(method, url, body, headers = {}) {
      const started = performance.now();
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise((resolve) => {
        const finish = (result: Omit<Timed, 'ms'>) =>
          resolve({ ...result, ms: performance.now() - started });
        const req = request(url, {
          method,
          agent,
          headers: payload ? { 'content-type': 'application/json', ...headers } : headers,
          signal: AbortSignal.timeout(timeoutMs),
        });
        req.on('error', (error) =>
          finish({ status: 0, headers: {}, body: undefined, error: error.message }),
        );
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (error) =>
            finish({ status: 0, headers: {}, body: undefined, error: error.message }),
          );
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            finish({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
          });
        });
        req.end(payload);
      });
    },
    close: () => agent.destroy(),
  };
}

/**
 * Runs `step` in `workers` concurrent loops until `stop()` returns true; resolves when every loop
 * has finished its last step. A bounded, self-stopping load.
 */
export async function runLoops(
  workers: number,
  stop: () => boolean,
  step: (worker: number) => Promise<void>,
): Promise<void> {
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      while (!stop()) await step(worker);
    }),
  );
}

/** The version of user `id` that the instance at `url` serves, or `-status` when not a 200. */
export async function versionServed(http: HttpClient, url: string, id: string): Promise<number> {
  const answer = await http.send('GET', `${url}/users/${id}`);
  return answer.status === 200 ? (answer.body as { version: number }).version : -answer.status;
}
