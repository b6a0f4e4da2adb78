#!/usr/bin/env node
// bin/reflex — the `reflex` command (dev, replay, validate). Runs the built form when there is
// one (dist/), else the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(`reflex needs Node >= 22.19 (found ${process.versions.node}); run it through npx or npm so Node 24 from "npm ci" is used.`);
  process.exit(1);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'scripts', 'reflex.js');
if (existsSync(built)) await import(pathToFileURL(built).href);
else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'scripts', 'reflex.ts')).href);
}
