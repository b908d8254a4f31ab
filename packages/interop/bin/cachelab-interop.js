#!/usr/bin/env node
// The `cachelab-interop` bin: the harness runs from its TypeScript sources, so this registers tsx
// (a development dependency of the repository) and runs src/cli.ts.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
