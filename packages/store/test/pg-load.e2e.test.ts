import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const storeEntry = fileURLToPath(new URL('../src/index.ts', import.meta.url));

describe('loading pg', () => {
  it("does not load Node's fetch implementation, and leaves navigator as Node has it", async () => {
    // In a process of its own: the test runner may have loaded undici already.
    const script = `
      const hadNavigator = 'navigator' in globalThis;
      const store = await import(${JSON.stringify(storeEntry)});
      console.log(JSON.stringify({
        undici: process.moduleLoadList.some((m) => m.includes('undici')),
        navigatorBefore: hadNavigator,
        navigatorAfter: 'navigator' in globalThis,
        createPool: typeof store.createPool,
      }));`;
    const { stdout } = await run(process.execPath, [
      '--import',
      'tsx',
      '--input-type=module',
      '--eval',
      script,
    ]);
    const seen = JSON.parse(stdout) as Record<string, unknown>;
    expect(seen).toMatchObject({ undici: false, createPool: 'function' });
    expect(seen.navigatorAfter).toBe(seen.navigatorBefore);
  });
});
