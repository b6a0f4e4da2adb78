#!/usr/bin/env node
// bin/reflex — the `reflex` command (start, dev, replay, validate): the TypeScript sources through
// tsx in a checkout, the built form (npm run build:dev) otherwise.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(`reflex needs Node >= 22.19 (found ${process.versions.node}); run it through npx or npm so Node 24 from "npm ci" is used.`);
  process.exit(1);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'dev', 'reflex.ts');
// A checkout runs its sources (a dist/ may be stale); an install without them runs the built form.
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else await import(pathToFileURL(join(root, 'dist-dev', 'dev', 'reflex.js')).href);
