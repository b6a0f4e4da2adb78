/**
 * _kit/deadline — bounded waits on a promise. The timers are unref'd: a wait still under way
 * never keeps a draining process alive.
 */

/** `p`, or `fault()` thrown after `ms`; what `p` does after that is ignored (its rejection handled). */
export async function within<T>(p: Promise<T>, ms: number, fault: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(fault()), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `p` to settle, `ms` at most; never throws (what `p` gives is read elsewhere). */
export async function waitAtMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const done = p.then(
    () => undefined,
    () => undefined,
  );
  await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, ms)).unref())]);
  clearTimeout(timer);
}
