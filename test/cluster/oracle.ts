/**
 * test/cluster/oracle — Knative's own Go code as a test oracle: one long-lived knative-oracle
 * process (test/oracle, built by build.sh into the cluster cache), asked in batches over JSON
 * lines so that thousands of questions take a second, not minutes.
 * @see docs/testing.md
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface FieldError {
  readonly paths: readonly string[];
  readonly message: string;
  readonly details?: string;
}
export interface ValidateAnswer {
  readonly ok: boolean;
  /** The object could not be decoded into eventing's Go types (a wrong type, an unknown field). */
  readonly decode?: boolean;
  readonly errors: readonly FieldError[];
  readonly defaulted?: Record<string, unknown>;
  readonly panic?: string;
}
export interface FilterAnswer {
  readonly pass?: boolean;
  readonly result?: 'PassFilter' | 'FailFilter' | 'NoFilter';
  /** sdk-go refused the event (it would never reach a Trigger). */
  readonly eventError?: string;
  /** Knative's code panicked: broker-filter would fail the request (see the test for which ones). */
  readonly panic?: string;
  /** The filter's Cleanup (run when the Trigger changes or goes) panicked. */
  readonly cleanupPanic?: string;
  readonly error?: string;
}
export interface DeliveryAnswer {
  readonly retryMax: number;
  readonly backoffMs: readonly number[];
  readonly timeoutMs: number;
  readonly retry: Readonly<Record<string, boolean>>;
  readonly configError?: string;
  readonly panic?: string;
  readonly error?: string;
}
export interface DispatchAnswer {
  readonly attempts: number;
  readonly status?: number;
  readonly subscriber: string;
  /** null when none (a Go nil slice). */
  readonly deadLetters: readonly { readonly extensions?: Readonly<Record<string, string>>; readonly error?: string }[] | null;
  readonly sendError?: string;
  readonly panic?: string;
  readonly error?: string;
}

export type Question =
  | { readonly op: 'validate'; readonly kind: 'Trigger' | 'Broker'; readonly object: unknown }
  | { readonly op: 'filter'; readonly trigger: unknown; readonly event: unknown; readonly hop?: 'binary' | 'none' }
  | { readonly op: 'delivery'; readonly delivery: unknown; readonly attempts: number; readonly statuses: readonly number[] }
  | {
      readonly op: 'dispatch';
      readonly event: unknown;
      readonly delivery: unknown;
      readonly responses: readonly { status: number; body?: string; headers?: Record<string, string> }[];
    };

const here = fileURLToPath(new URL('.', import.meta.url));

/** The binary: beside the control plane's (REFLEX_TEST_BIN, set by the global setup), else build.sh's cache. */
export function oracleBinary(): string {
  const dir =
    process.env['REFLEX_TEST_BIN'] ??
    join(spawnSync('bash', [join(here, 'build.sh'), '--print-dir'], { encoding: 'utf8' }).stdout.trim(), 'bin');
  const bin = join(dir, 'knative-oracle');
  if (!existsSync(bin)) throw new Error(`knative-oracle missing in ${dir}; run npm run cluster:build`);
  return bin;
}

export class Oracle {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting = new Map<number, (answer: unknown) => void>();
  private next = 1;
  private stderr = '';

  constructor(bin = oracleBinary()) {
    this.child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (b: Buffer) => (this.stderr += b.toString()));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const answer = JSON.parse(line) as { id: number };
      this.waiting.get(answer.id)?.(answer);
      this.waiting.delete(answer.id);
    });
    this.child.on('exit', (code) => {
      for (const [id, resolve] of this.waiting) resolve({ id, error: `knative-oracle exited (${code}): ${this.stderr}` });
      this.waiting.clear();
    });
  }

  /** All questions written at once; the answers in the same order. */
  ask<A>(questions: readonly Question[]): Promise<A[]> {
    const answers = questions.map(
      (q) =>
        new Promise<A>((resolve) => {
          const id = this.next++;
          this.waiting.set(id, resolve as (a: unknown) => void);
          this.child.stdin.write(`${JSON.stringify({ ...q, id })}\n`);
        }),
    );
    return Promise.all(answers);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.stdin.end();
    });
  }
}
