// jest global setup: one real control plane per run; tests find it through the environment.
// Plain ESM (jest loads global setup outside its module mapper); tsx loads the TypeScript harness.
import { register } from 'tsx/esm/api';
import { writeFileSync } from 'node:fs';

export default async function globalSetup() {
  const unregister = register();
  const { startControlPlane, useControlPlane } = await import('./control-plane.ts');
  await unregister();
  const cp = await startControlPlane();
  globalThis.reflexControlPlane = cp;
  // Workers are separate processes started after this: they inherit these variables.
  useControlPlane(cp);
  writeFileSync(`${cp.dir}/started-in-ms`, String(cp.startedInMs));
  process.stderr.write(`\ncontrol plane ready in ${(cp.startedInMs / 1000).toFixed(1)} s at ${cp.server} (${cp.dir})\n`);
}
