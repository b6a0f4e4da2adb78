/**
 * dev/silence — `reflex silence add|list|expire`: Alertmanager-like silences for notify, kept in
 * the ConfigMap reflex-silences of Reflex's namespace in the current kube context's cluster (one
 * key per silence, written with resourceVersion preconditions). notify re-reads it every few
 * seconds on every replica. See functions/notify/README.md#silences and docs/local.md.
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { ConflictError, ForbiddenError, ReflexError, retryOnConflict, UnavailableError } from '../functions/_kit/errors.js';
import { kubeCluster, type Cluster, type KubeObject } from '../functions/_kit/k8s.js';
import { defaultSchemasDir, loadSchemas } from '../functions/_kit/schemas.js';
import {
  checkMatchers,
  formatMatcher,
  MatcherError,
  parseDuration,
  parseMatcher,
  SILENCE_RETENTION_MS,
  SILENCE_SCHEMA,
  SILENCES_CONFIGMAP,
  stateOf,
  type Silence,
  type SilenceState,
} from '../functions/notify/silences.js';

/** A usage error (exit 2): what is wrong with what was typed. */
export class SilenceUsageError extends Error {}
/** A runtime failure (exit 1): the cluster, the permissions, an id that is not there. */
export class SilenceFailure extends Error {}

export const SILENCE_SUBCOMMANDS = ['add', 'list', 'expire'] as const;
type Sub = (typeof SILENCE_SUBCOMMANDS)[number];

/** Which options each subcommand takes (the command table declares them all). */
const TAKES: Readonly<Record<Sub, readonly string[]>> = {
  add: ['duration', 'start', 'end', 'comment', 'author', 'namespace', 'json'],
  list: ['expired', 'namespace', 'json'],
  expire: ['namespace', 'json'],
};

/** As amtool's default: long enough to fix something, short enough not to be forgotten. */
const DEFAULT_DURATION = '1h';
/** What a message's suggested command says instead of a reason: to be replaced, never stored. */
const PLACEHOLDER_COMMENT = '<why>';

export type SilenceValues = Readonly<Record<string, string | boolean | undefined>>;

export interface SilenceIo {
  readonly out: (text: string) => void;
  /** The kubeconfig file of the current context, or undefined when this machine has none. */
  readonly kubeconfig: string | undefined;
  readonly now?: () => Date;
}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

function time(flag: string, value: string): number {
  const t = Date.parse(value);
  if (!/^\d{4}-\d\d-\d\dT/.test(value) || Number.isNaN(t))
    throw new SilenceUsageError(`--${flag} ${value}: not a time; give RFC 3339, e.g. 2026-11-22T18:00:00Z`);
  return t;
}

/** A new silence from the command line, checked before the cluster is contacted. */
export function silenceFrom(matchers: readonly string[], values: SilenceValues, now: Date): Silence {
  let parsed;
  try {
    parsed = matchers.map(parseMatcher);
    checkMatchers(parsed);
  } catch (err) {
    if (err instanceof MatcherError) throw new SilenceUsageError(err.message);
    throw err;
  }
  const comment = str(values['comment'])?.trim();
  if (!comment) throw new SilenceUsageError('--comment is required: say why, for whoever finds the silence (reflex silence list shows it)');
  if (comment === PLACEHOLDER_COMMENT)
    throw new SilenceUsageError(`--comment: replace ${PLACEHOLDER_COMMENT} with the reason for the silence`);
  const { start, end } = windowOf(values, now.getTime());
  const author = str(values['author'])?.trim() || userName();
  const at = now.toISOString();
  return {
    id: randomUUID(),
    matchers: parsed,
    startsAt: new Date(start).toISOString(),
    endsAt: new Date(end).toISOString(),
    createdBy: author,
    comment,
    createdAt: at,
  };
}

/** --start (default now), and --end or --duration (default 1h). */
function windowOf(values: SilenceValues, now: number): { start: number; end: number } {
  const start = str(values['start']) === undefined ? now : time('start', str(values['start'])!);
  const endFlag = str(values['end']);
  const durationFlag = str(values['duration']);
  if (endFlag !== undefined && durationFlag !== undefined) throw new SilenceUsageError('give --end or --duration, not both');
  let end: number;
  if (endFlag !== undefined) end = time('end', endFlag);
  else {
    const ms = parseDuration(durationFlag ?? DEFAULT_DURATION);
    if (ms === undefined) throw new SilenceUsageError(`--duration ${durationFlag}: not a duration; e.g. 30m, 2h, 1d, 1h30m`);
    end = start + ms;
  }
  if (end <= now) throw new SilenceUsageError('the silence would end in the past');
  if (end <= start) throw new SilenceUsageError('the silence would end before it starts');
  return { start, end };
}

function userName(): string {
  try {
    return userInfo().username || process.env['USER'] || 'unknown';
  } catch {
    return process.env['USER'] || 'unknown';
  }
}

/** `3m`, `2h`, `4d`: how far a time is from now, as kubectl says ages. */
export function ago(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86_400)}d`;
}
const relative = (t: number, now: number): string => (t >= now ? `in ${ago(t - now)}` : `${ago(now - t)} ago`);

/** kubectl's table: upper-case headers, columns three spaces apart, no borders. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

interface Book {
  readonly silences: Silence[];
  readonly resourceVersion: string | undefined;
}

/** The silences ConfigMap and what the API server says, as a person should read it. */
class Store {
  readonly #ref;
  readonly #valid = loadSchemas([defaultSchemasDir()]).validator(SILENCE_SCHEMA);

  constructor(
    private readonly cluster: Cluster,
    private readonly namespace: string,
    private readonly where: string,
  ) {
    this.#ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: SILENCES_CONFIGMAP };
  }

  async read(): Promise<Book> {
    const cm = await this.#call(() => this.cluster.get<KubeObject & { data?: Record<string, string> }>(this.#ref));
    const silences: Silence[] = [];
    for (const text of Object.values(cm?.data ?? {})) {
      try {
        const s = JSON.parse(text) as unknown;
        if (this.#valid(s)) silences.push(s as Silence);
      } catch {
        // Not ours to repair here; notify logs it, and the next write leaves it as it is.
      }
    }
    return { silences, resourceVersion: cm?.metadata?.resourceVersion };
  }

  /** Writes `set` (and drops silences expired longer than the retention), at the version read. */
  async write(book: Book, set: readonly Silence[], now: number): Promise<void> {
    const drop = book.silences.filter((s) => now - Date.parse(s.endsAt) > SILENCE_RETENTION_MS).map((s) => s.id);
    const data: Record<string, string | null> = Object.fromEntries(drop.map((id) => [id, null]));
    for (const s of set) data[s.id] = JSON.stringify(s);
    if (book.resourceVersion === undefined) {
      const made = await this.#call(() =>
        this.cluster.create({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: SILENCES_CONFIGMAP, namespace: this.namespace, labels: { 'app.kubernetes.io/part-of': 'reflex' } },
          data,
        }),
      );
      if (!made) throw new ConflictError('created by someone else meanwhile');
      return;
    }
    const done = await this.#call(() =>
      this.cluster.patch(this.#ref, { metadata: { resourceVersion: book.resourceVersion }, data }, 'merge'),
    );
    if (!done) throw new ConflictError('deleted meanwhile');
  }

  async #call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof ConflictError) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      // Unavailable, or a fault the kit could not place (client-node's discovery loses the network error's code).
      if (err instanceof UnavailableError || !(err instanceof ReflexError))
        throw new SilenceFailure(`${this.where} does not answer: ${msg}`);
      if (err instanceof ForbiddenError)
        throw new SilenceFailure(
          `${msg}\n  Silences need get, create and patch on ConfigMap ${SILENCES_CONFIGMAP} in namespace ${this.namespace} (${this.where}).`,
        );
      if (/namespaces? "?[^ ]*"? not found|answered 404/.test(msg))
        throw new SilenceFailure(
          `${msg}\n  Is Reflex installed in ${this.where}? Its namespace is ${this.namespace} (--namespace to choose another).`,
        );
      throw new SilenceFailure(msg);
    }
  }
}

const STATE_ORDER: Record<SilenceState, number> = { active: 0, pending: 1, expired: 2 };

function rowOf(s: Silence, now: number): string[] {
  return [
    s.id,
    stateOf(s, now),
    s.matchers.map(formatMatcher).join(' '),
    relative(Date.parse(s.startsAt), now),
    relative(Date.parse(s.endsAt), now),
    s.createdBy,
    s.comment.replace(/\s+/g, ' '),
  ];
}

/** The kube context and its API server, for messages: which cluster was (or was not) reached. */
async function contextOf(kubeconfig: string): Promise<string> {
  try {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    return `the cluster of kube context ${kc.getCurrentContext()} (${kc.getCurrentCluster()?.server ?? 'no server'})`;
  } catch {
    return `the cluster of ${kubeconfig}`;
  }
}

/** What each subcommand is given: the store, the options, the time, where to print. */
interface Run {
  readonly store: Store;
  readonly namespace: string;
  readonly values: SilenceValues;
  readonly json: boolean;
  readonly now: Date;
  readonly out: (text: string) => void;
}

async function add(made: Silence, r: Run): Promise<void> {
  const t = r.now.getTime();
  await retryOnConflict(`ConfigMap ${SILENCES_CONFIGMAP}`, async () => r.store.write(await r.store.read(), [made], t));
  if (r.json) r.out(`${JSON.stringify({ ...made, state: stateOf(made, t) })}\n`);
  else
    r.out(
      `silence ${made.id} created: ${made.matchers.map(formatMatcher).join(' ')}, ${stateOf(made, t)} until ${made.endsAt} (${relative(Date.parse(made.endsAt), t)})\n`,
    );
}

async function list(r: Run): Promise<void> {
  const t = r.now.getTime();
  const all = r.values['expired'] === true;
  const { silences } = await r.store.read();
  const shown = silences
    .filter((x) => all || stateOf(x, t) !== 'expired')
    .sort((a, b) => STATE_ORDER[stateOf(a, t)] - STATE_ORDER[stateOf(b, t)] || Date.parse(a.endsAt) - Date.parse(b.endsAt));
  if (r.json) r.out(`${JSON.stringify(shown.map((x) => ({ ...x, state: stateOf(x, t) })))}\n`);
  else if (shown.length === 0)
    r.out(`No silences found in namespace ${r.namespace}${all ? '' : ' (--expired to show the expired ones too)'}.\n`);
  else r.out(table([['ID', 'STATE', 'MATCHERS', 'STARTS', 'ENDS', 'CREATED BY', 'COMMENT'], ...shown.map((x) => rowOf(x, t))]));
}

/** The one silence `given` names: its id, or the first characters of exactly one id. */
function find(silences: readonly Silence[], given: string, namespace: string): Silence {
  const found = silences.filter((x) => x.id === given || (given.length >= 4 && x.id.startsWith(given)));
  if (found.length === 0)
    throw new SilenceFailure(`no silence ${given} in namespace ${namespace} (reflex silence list --expired shows them all)`);
  if (found.length > 1)
    throw new SilenceFailure(`${given} names ${found.length} silences (${found.map((x) => x.id).join(', ')}): give more of the id`);
  return found[0]!;
}

async function expire(ids: readonly string[], r: Run): Promise<void> {
  const t = r.now.getTime();
  const at = r.now.toISOString();
  let done: { silence: Silence; already: boolean }[] = [];
  await retryOnConflict(`ConfigMap ${SILENCES_CONFIGMAP}`, async () => {
    const book = await r.store.read();
    done = ids.map((given) => {
      const x = find(book.silences, given, r.namespace);
      if (stateOf(x, t) === 'expired') return { silence: x, already: true };
      // A pending silence that is expired never starts: it ends as it would have begun.
      return { silence: { ...x, startsAt: Date.parse(x.startsAt) > t ? at : x.startsAt, endsAt: at, updatedAt: at }, already: false };
    });
    const changed = done.filter((d) => !d.already).map((d) => d.silence);
    if (changed.length > 0) await r.store.write(book, changed, t);
  });
  if (r.json) r.out(`${JSON.stringify(done.map((d) => ({ ...d.silence, state: stateOf(d.silence, t) })))}\n`);
  else for (const d of done) r.out(`silence ${d.silence.id} ${d.already ? 'had expired already' : 'expired'}\n`);
}

/** What was typed, checked before the cluster is contacted (usage errors exit 2 without a cluster). */
function checkUsage(sub: string | undefined, args: readonly string[], values: SilenceValues): Sub {
  if (sub === undefined) throw new SilenceUsageError(`silence needs a subcommand: ${SILENCE_SUBCOMMANDS.join(', ')}`);
  if (!(SILENCE_SUBCOMMANDS as readonly string[]).includes(sub))
    throw new SilenceUsageError(`unknown subcommand ${sub}; the subcommands are ${SILENCE_SUBCOMMANDS.join(', ')}`);
  const s = sub as Sub;
  for (const [flag, v] of Object.entries(values))
    if (v !== undefined && flag !== 'help' && !TAKES[s].includes(flag))
      throw new SilenceUsageError(`--${flag} does not apply to silence ${s}`);
  if (s === 'list' && args.length > 0) throw new SilenceUsageError(`silence list takes no arguments (given: ${args.join(' ')})`);
  if (s === 'expire' && args.length === 0)
    throw new SilenceUsageError('silence expire needs the id of a silence (reflex silence list shows them)');
  const namespace = str(values['namespace']) ?? 'reflex';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) throw new SilenceUsageError(`--namespace ${namespace}: not a namespace name`);
  return s;
}

/** Runs `reflex silence <sub> …`; throws SilenceUsageError (exit 2) or SilenceFailure (exit 1). */
export async function silenceCommand(positionals: readonly string[], values: SilenceValues, io: SilenceIo): Promise<void> {
  const [sub, ...args] = positionals;
  const s = checkUsage(sub, args, values);
  const now = (io.now ?? (() => new Date()))();
  const made = s === 'add' ? silenceFrom(args, values, now) : undefined;
  if (!io.kubeconfig)
    throw new SilenceFailure('no kubeconfig found (KUBECONFIG or ~/.kube/config): silences live in the cluster notify runs in');
  const namespace = str(values['namespace']) ?? 'reflex';
  const store = new Store(kubeCluster({ file: io.kubeconfig }), namespace, await contextOf(io.kubeconfig));
  const run: Run = { store, namespace, values, json: values['json'] === true, now, out: io.out };
  if (made) await add(made, run);
  else if (s === 'list') await list(run);
  else await expire(args, run);
}
