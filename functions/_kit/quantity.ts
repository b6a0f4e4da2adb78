/** _kit/quantity — Kubernetes resource quantities (memory, CPU) as numbers of their base unit. */

const MULTIPLIERS: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
};

/**
 * A Kubernetes quantity: plain numbers, binary (Ki, Mi…) or decimal (k, M, G…) suffixes, or
 * fractions (`100m` CPU is 0.1; metrics.k8s.io says CPU in nanocores, `1234567n`). Undefined for
 * what is not one.
 */
export function quantityOf(q: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|n|u|m|k|M|G|T|P)?$/.exec(q.trim());
  if (!m) return undefined;
  return Number(m[1]) * (m[2] ? MULTIPLIERS[m[2]]! : 1);
}

/** A memory quantity in whole bytes. */
export function bytesOf(q: string): number | undefined {
  const n = quantityOf(q);
  return n === undefined ? undefined : Math.round(n);
}

/** Bytes as people read them: `512Mi`, `1.5Gi`, `900Ki`. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['Gi', 1024 ** 3],
    ['Mi', 1024 ** 2],
    ['Ki', 1024],
  ] as const)
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))}${unit}`;
  return String(Math.round(bytes));
}

/** CPU cores as Kubernetes writes them: `250m`, `2`. */
export function formatCpu(cores: number): string {
  return Number.isInteger(cores) ? String(cores) : `${Math.round(cores * 1000)}m`;
}
