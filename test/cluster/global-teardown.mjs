// jest global teardown: stop every control-plane process, even after failures.
export default async function globalTeardown() {
  await globalThis.reflexControlPlane?.stop();
}
