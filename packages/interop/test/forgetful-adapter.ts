/**
 * A broken implementation, for the test that the harness catches one: the Node.js adapter behind
 * a proxy whose `peek` answers the last L1 entry it ever reported for a key, as an L1 that never
 * drops an entry would. Run by interop.e2e.test.ts as an adapter of its own.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const adapter = fileURLToPath(new URL('../src/adapters/node.ts', import.meta.url));
const child = spawn(process.execPath, ['--import', 'tsx', adapter], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const peeks = new Map<number, string>();
const remembered = new Map<string, object>();

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const request = JSON.parse(line) as { id: number; op: string; key?: string };
    if (request.op === 'peek' && request.key) peeks.set(request.id, request.key);
    child.stdin.write(`${line}\n`);
  })
  .on('close', () => child.stdin.end());

createInterface({ input: child.stdout }).on('line', (line) => {
  const response = JSON.parse(line) as { id: number; found?: boolean };
  const key = peeks.get(response.id);
  if (key !== undefined) {
    peeks.delete(response.id);
    if (response.found) remembered.set(key, response);
    else if (remembered.has(key))
      line = JSON.stringify({ ...remembered.get(key), id: response.id });
  }
  process.stdout.write(`${line}\n`);
});
child.on('exit', (code) => process.exit(code ?? 1));
