/**
 * dev/reflex — the `reflex` command: run Reflex locally (`start`, `dev`), ask what it would
 * have done (`replay`), check configuration (`validate`). See docs/local.md.
 *
 * Exit status: 0 ok, 1 problems found or a runtime failure, 2 a usage error.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { kubeconfigOf } from '../functions/_kit/k8s.js';
import { tracingFrom } from '../functions/_kit/tracing.js';
import { projectRoot } from '../functions/_kit/schemas.js';
import { definitionOf, startMesh, defaultManifests, type RunningMesh } from './mesh/mesh.js';
import { loadMesh, type Mesh } from './mesh/manifests.js';
import { compileFilter } from './mesh/filters.js';
import { play, startRecordedMesh } from './mesh/play.js';
import { readRecording, RECORDING_FORMATS, type Recorded } from './mesh/replay.js';
import {
  ClusterUnreachable,
  probeCluster,
  requestFault,
  startApiServerWatches,
  startPingSources,
  type ClusterInfo,
} from './mesh/sources.js';
import { colourFor, jsonRow, Narrator, printer, summary, type Line } from './mesh/timeline.js';
import { CONSOLE_PATH, createConsole, type Console } from './console/hub.js';
import { silenceCommand, SilenceUsageError, type SilenceValues } from './silence.js';

const EXIT_PROBLEMS = 1;
const EXIT_USAGE = 2;

type Names = 'start' | 'dev' | 'replay' | 'validate' | 'silence';

interface Flag {
  readonly type: 'string' | 'boolean';
  /** The value's name in help (`--port P`). */
  readonly value?: string;
  /** Shown as `--no-<name>` (a boolean on by default). */
  readonly negated?: boolean;
  readonly help: string;
}

interface Command {
  readonly synopsis: string;
  readonly summary: string;
  readonly about: string;
  /** The most positional arguments it takes, and what they are. */
  readonly positionals: { readonly max: number; readonly name?: string };
  readonly flags: Readonly<Record<string, Flag>>;
  readonly examples: readonly string[];
}

const FLAGS = {
  json: {
    type: 'boolean',
    help: 'one JSON object per line, {"at","kind","text",…} with the fields of its kind (event, signal, action, problem; see docs/local.md), instead of the timeline',
  },
  rules: {
    type: 'string',
    value: 'FILE',
    help: "classify with these rules (what-if); default: $REFLEX_RULES_FILE when set, else the manifests' (knative/config/classify-rules.yaml)",
  },
  manifests: { type: 'string', value: 'DIR', help: 'the kustomization to load (default: knative/)' },
  port: {
    type: 'string',
    value: 'P',
    help: 'the ingress port (default 8080; 0: any free port): POST to http://127.0.0.1:P/<namespace>/<broker>',
  },
  source: {
    type: 'string',
    value: 'S',
    help: 'auto (default: cluster with a kubeconfig, else none) | cluster (the current kube context) | none (only what is posted) | <recording> (replayed, then the ingress stays up)',
  },
  act: { type: 'boolean', help: 'let recover and scale change the cluster (default: dry-run; the policies still guard)' },
  pings: { type: 'boolean', negated: true, help: "do not run the manifests' PingSources (sweep and scale ticks)" },
  verbose: { type: 'boolean', help: "print every function's log lines too, prefixed with its name" },
  replay: { type: 'boolean', help: 'replay even when there is a kubeconfig' },
  html: {
    type: 'string',
    value: 'FILE',
    help: "also write the web console's report: one self-contained HTML file (timeline, topology, the records inline; opens offline; see docs/console.md)",
  },
} as const satisfies Record<string, Flag>;

const COMMANDS: Readonly<Record<Names, Command>> = {
  start: {
    synopsis: 'start [<recording>] [options]',
    summary: 'Reflex with what this machine has: your cluster in dry-run, or the bundled incident replayed',
    about:
      'With a kubeconfig (KUBECONFIG or ~/.kube/config): `reflex dev --source cluster` against its current context, in dry-run,\n' +
      'until Ctrl-C. With none, or given a recording or --replay: that recording (default: the bundled incident,\n' +
      'examples/incident/checkout.ndjson) replayed as `reflex replay` does, then it exits.',
    positionals: { max: 1, name: 'recording' },
    flags: {
      replay: FLAGS.replay,
      rules: FLAGS.rules,
      json: FLAGS.json,
      html: { ...FLAGS.html, help: `replaying: ${FLAGS.html.help}` },
      manifests: FLAGS.manifests,
      port: { ...FLAGS.port, help: `with a cluster: ${FLAGS.port.help}` },
      act: { ...FLAGS.act, help: `with a cluster: ${FLAGS.act.help}` },
      pings: { ...FLAGS.pings, help: `with a cluster: ${FLAGS.pings.help}` },
      verbose: FLAGS.verbose,
    },
    examples: [
      'npm start                                      # your cluster in dry-run, or with no kubeconfig the bundled incident',
      'npm start -- --replay                          # the bundled incident, even with a kubeconfig',
      'npm start -- my-incident.ndjson --rules my-rules.yaml --json',
      'REFLEX_RULES_FILE=my-rules.yaml npm start -- my-incident.ndjson',
      'npm start -- --act                             # let recover and scale change your cluster',
    ],
  },
  dev: {
    synopsis: 'dev [options]',
    summary: 'the development broker and every function the manifests deploy, until Ctrl-C',
    about:
      'The Brokers and Triggers of the manifests, routed as Knative routes them, and each function they deploy as a\n' +
      'local HTTP server. Fed by your cluster, by a recording (replayed on its own clock, as `reflex replay` does), or\n' +
      'by whatever you POST to the ingress.',
    positionals: { max: 0 },
    flags: {
      manifests: FLAGS.manifests,
      port: FLAGS.port,
      source: FLAGS.source,
      rules: FLAGS.rules,
      act: FLAGS.act,
      pings: FLAGS.pings,
      verbose: FLAGS.verbose,
      json: { ...FLAGS.json, help: `${FLAGS.json.help}; the banner goes to stderr` },
    },
    examples: [
      'npx reflex dev                                   # POST CloudEvents to http://127.0.0.1:8080/reflex/reflex',
      'npx reflex dev --source examples/incident/checkout.ndjson   # the incident, then the ingress stays up',
      'npx reflex dev --source cluster --act            # your current kube context, acting',
      'npx reflex dev --port 0 --json | jq .            # any free port; JSON lines',
    ],
  },
  replay: {
    synopsis: 'replay <recording> [options]',
    summary: 'what Reflex would have done with a recording, with no cluster',
    about:
      "Every watch event the manifests' ApiServerSources would bridge goes through the development broker and the real\n" +
      "functions on the recording's clock; recover and scale read the cluster as the recording knows it. Nothing is\n" +
      `contacted, nothing is changed.\n\n${RECORDING_FORMATS}`,
    positionals: { max: 1, name: 'recording' },
    flags: { json: FLAGS.json, html: FLAGS.html, rules: FLAGS.rules, manifests: FLAGS.manifests, verbose: FLAGS.verbose },
    examples: [
      'kubectl get events -A -o json > events.json',
      'npx reflex replay events.json                       # a readable timeline',
      'npx reflex replay events.json --json | jq .         # one object per line',
      'npx reflex replay events.json --rules my-rules.yaml # classify with other rules',
      'npx reflex replay events.json --html report.html    # and a report to open in a browser, offline',
      'kubectl get event web.18799a0c1b2d3e4f -n shop -o json > one.json && npx reflex replay one.json',
    ],
  },
  validate: {
    synopsis: 'validate [options]',
    summary: 'check the manifests, the rules and every policy, explaining each error',
    about:
      "Loads the manifests as the broker would, then runs each function's own configuration step with its Service's\n" +
      'environment (rules, policies, notify routes), and prints every error with the file and key it comes from.',
    positionals: { max: 0 },
    flags: {
      manifests: FLAGS.manifests,
      json: { type: 'boolean', help: 'one JSON document, {"valid","manifests","checked","errors"}, instead of the list' },
    },
    examples: ['npx reflex validate', 'npx reflex validate --manifests my-overlay/ --json | jq .errors'],
  },
  silence: {
    synopsis: 'silence add <matcher>... --comment TEXT [options] | silence list [options] | silence expire <id>... [options]',
    summary: "hold notify's messages back for a while: add, list and expire silences in your cluster",
    about:
      "Silences like Alertmanager's, kept in the ConfigMap reflex-silences of Reflex's namespace in the current kube\n" +
      "context's cluster; every notify replica honours them within seconds. While one is active, a message whose labels\n" +
      'all its matchers match is counted (reflex_notify_messages_total{outcome="silenced"}), not sent.\n\n' +
      '  add <matcher>...   a new silence; matchers are <name><op><value>: name class, severity, namespace, target\n' +
      '                     (<kind>/<name>, e.g. deployment/web) or reason; op = != =~ !~ (regular expressions are RE2,\n' +
      '                     anchored). At least one matcher must be = or =~. Every message shows the add command for it.\n' +
      '  list               the active and pending silences (--expired: the expired ones too), as a table\n' +
      '  expire <id>...     ends silences now (an id, or its first characters when they name one silence)\n\n' +
      'One workload can also be silenced without a silence: annotate it reflex.dev/silence-until=<RFC 3339 time>.',
    positionals: { max: 64, name: 'matcher or id' },
    flags: {
      duration: { type: 'string', value: 'D', help: 'add: how long it lasts (default 1h): 30m, 2h, 1d, 1h30m' },
      end: { type: 'string', value: 'T', help: 'add: when it ends, instead of --duration (RFC 3339)' },
      start: { type: 'string', value: 'T', help: 'add: when it starts (RFC 3339; default now)' },
      comment: { type: 'string', value: 'TEXT', help: 'add: why (required), shown by list' },
      author: { type: 'string', value: 'NAME', help: 'add: who made it (default: your user name)' },
      expired: { type: 'boolean', help: 'list: the expired silences too (kept five days)' },
      namespace: { type: 'string', value: 'NS', help: "Reflex's namespace (default reflex)" },
      json: { type: 'boolean', help: 'the silence(s) as JSON, each with its state, instead of the table or the sentence' },
    },
    examples: [
      "npx reflex silence add class=crashloop namespace=shop target=deployment/web --duration 2h --comment 'rolling back by hand'",
      "npx reflex silence add severity=info namespace=~'batch-.*' --end 2026-11-23T08:00:00Z --comment 'nightly load test'",
      'npx reflex silence list',
      'npx reflex silence list --expired --json | jq .',
      'npx reflex silence expire 4f0c2a8e',
      'kubectl annotate deployment web -n shop reflex.dev/silence-until=2026-11-23T08:00:00Z',
    ],
  },
};

const EXIT_TEXT =
  'Exit status: 0 ok, 1 problems found (an invalid configuration, a failed delivery) or a runtime failure, 2 a usage error.';

function mainHelp(): string {
  const names = Object.keys(COMMANDS) as Names[];
  return [
    'usage: reflex <command> [options]',
    '',
    'Reflex on this machine: run it, ask what it would have done, check its configuration.',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(10)}${COMMANDS[n].summary}`),
    '',
    'Options:',
    `  ${'-h, --help'.padEnd(14)}this help; \`reflex <command> --help\`: a command's options and examples`,
    `  ${'--version'.padEnd(14)}the version of Reflex`,
    '',
    'Environment: KUBECONFIG (the cluster of start, dev and silence), REFLEX_RULES_FILE (rules, as --rules), NO_COLOR (no colour).',
    EXIT_TEXT,
    'See docs/local.md.',
    '',
  ].join('\n');
}

function commandHelp(name: Names): string {
  const c = COMMANDS[name];
  const flags = Object.entries(c.flags).map(
    ([k, f]) => [f.negated ? `--no-${k}` : `--${k}${f.value ? ` ${f.value}` : ''}`, f.help] as const,
  );
  const all = [...flags, ['-h, --help', 'this help'] as const];
  const width = Math.max(...all.map(([f]) => f.length)) + 2;
  return [
    `usage: reflex ${c.synopsis}`,
    '',
    c.about,
    '',
    'Options:',
    ...all.map(([f, h]) => `  ${f.padEnd(width)}${h}`),
    '',
    'Examples:',
    ...c.examples.map((e) => `  ${e}`),
    '',
    EXIT_TEXT,
    '',
  ].join('\n');
}

const out = (s: string): boolean => process.stdout.write(s);
// A reader that has had enough (`reflex replay x.json | head`) ends the command, quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

/** A runtime failure or a problem found: what happened and what to do, exit 1. */
function fail(msg: string, code = EXIT_PROBLEMS): never {
  process.stderr.write(`reflex: ${msg}\n`);
  process.exit(code);
}

/** A usage error: the fault and where the help is, exit 2. */
function usage(command: Names | undefined, msg: string): never {
  process.stderr.write(
    `reflex${command ? ` ${command}` : ''}: ${msg}\nRun \`reflex ${command ? `${command} ` : ''}--help\` for the options and examples.\n`,
  );
  process.exit(EXIT_USAGE);
}

interface Values {
  readonly json?: boolean;
  readonly rules?: string;
  readonly manifests?: string;
  readonly port?: string;
  readonly source?: string;
  readonly act?: boolean;
  readonly pings?: boolean;
  readonly verbose?: boolean;
  readonly replay?: boolean;
  readonly html?: string;
  readonly help?: boolean;
}

/** Node's parseArgs faults, said as a person would. */
function parseFault(err: unknown): string {
  const e = err as Error & { code?: string };
  const flag = /'(-[^' ]+)/.exec(e.message)?.[1] ?? '';
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${flag}`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')
    return /does not take an argument/.test(e.message) ? `${flag} takes no value` : `${flag} needs a value`;
  return e.message;
}

function parse(name: Names, args: readonly string[]): { values: Values; positionals: string[] } {
  const c = COMMANDS[name];
  const options = Object.fromEntries(Object.entries(c.flags).map(([k, f]) => [k, { type: f.type }]));
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      allowNegative: true,
      strict: true,
    });
  } catch (err) {
    return usage(name, parseFault(err));
  }
  const values = parsed.values as Values;
  if (values.help) {
    out(commandHelp(name));
    process.exit(0);
  }
  const extra = parsed.positionals.length - c.positionals.max;
  if (extra > 0)
    usage(
      name,
      c.positionals.max === 0
        ? `${name} takes no arguments (given: ${parsed.positionals.join(' ')})`
        : `${name} takes one ${c.positionals.name} (given: ${parsed.positionals.join(' ')})`,
    );
  return { values, positionals: parsed.positionals };
}

/** The kubeconfig file the functions would load, if there is one on this machine. */
function kubeconfigPath(): string | undefined {
  const source = kubeconfigOf(process.env);
  return source && source !== 'in-cluster' && existsSync(source.file) ? source.file : undefined;
}

const incident = (): string => join(projectRoot(), 'examples', 'incident', 'checkout.ndjson');

/** Where the person is: npm runs scripts in the package's folder, and says where it was started in INIT_CWD. */
const here = (): string => process.env['INIT_CWD'] || process.cwd();

/** A path the person gave, from where they are (`npm start -- ../my.ndjson` from a subfolder too). */
const given = (path: string): string => resolve(here(), path);

/** A path as the person would type it: relative to where they are when it is below. */
const shown = (path: string): string => {
  const r = relative(here(), path);
  return r && !r.startsWith('..') ? r : path;
};

const OFFLINE =
  'Without a cluster:\n' +
  '    npm start -- --replay           the bundled incident, replayed through the real functions\n' +
  '    npx reflex replay <recording>   what Reflex would have done with `kubectl get events -A -o json` output';

function recordingOf(file: string): Recorded[] {
  try {
    return readRecording(given(file));
  } catch (err) {
    return fail((err as Error).message);
  }
}

/** The rules file to classify with: --rules, else $REFLEX_RULES_FILE, else (undefined) the manifests'. */
function rulesOf(flag: string | undefined): string | undefined {
  const fromEnv = process.env['REFLEX_RULES_FILE']?.trim();
  const file = flag ?? (fromEnv || undefined);
  if (file === undefined) return undefined;
  const path = given(file);
  if (!existsSync(path))
    fail(`${flag !== undefined ? `--rules ${flag}` : `REFLEX_RULES_FILE=${file}`}: no such file (the classify rules to use)`);
  return path;
}

const jsonLine = (l: Line): string => `${JSON.stringify(jsonRow(l))}\n`;

/** Counts what a timeline showed, for its summary. */
function tally(): { add(l: Line): void; of(fed: { bridged: number; contextOnly: number; logs?: number }): string; problems(): number } {
  const n = { signal: 0, action: 0, problem: 0 };
  return {
    add: (l) => {
      if (l.kind === 'signal' || l.kind === 'action' || l.kind === 'problem') n[l.kind]++;
    },
    of: (fed) => summary({ ...fed, signals: n.signal, decisions: n.action, problems: n.problem }),
    problems: () => n.problem,
  };
}

/**
 * The manifests, read once for what the replay says first: Brokers and Triggers the mesh does not
 * load (Knative would refuse them). A mesh that cannot load at all is said by the replay's own
 * start; the error is kept for --html, which needs the mesh.
 */
function meshOf(dir: string): Mesh | Error {
  try {
    const mesh = loadMesh(dir);
    for (const p of mesh.problems) process.stderr.write(`reflex: not loaded (the rest runs): ${p.message}\n`);
    return mesh;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

async function replayCommand(file: string, opts: Values & { readonly banner?: string }): Promise<void> {
  const records = recordingOf(file);
  const rulesFile = rulesOf(opts.rules);
  const colour = !opts.json && colourFor(process.stdout, process.env);
  if (opts.banner && !opts.json) out(opts.banner);
  const seen = tally();
  const progress = progressOf(opts, records);
  const print = printer(colour);
  const dir = opts.manifests ? given(opts.manifests) : defaultManifests();
  const mesh = meshOf(dir);
  // --html: the console's records, kept as the replay goes, written as one file at the end.
  let hub: Console | undefined;
  if (opts.html !== undefined) {
    if (mesh instanceof Error) fail(mesh.message);
    hub = createConsole(mesh);
  }
  const verbose = opts.verbose ? (line: string, svc: string) => process.stderr.write(`[${svc}] ${line}\n`) : undefined;
  const played = await play(records, {
    ...(rulesFile ? { rulesFile } : {}),
    ...(opts.manifests ? { manifests: given(opts.manifests) } : {}),
    onLine: (l) => {
      seen.add(l);
      out(opts.json ? jsonLine(l) : print(l));
    },
    ...(verbose || hub
      ? {
          logSink: (line: string, svc: string) => {
            hub?.log(line, svc);
            verbose?.(line, svc);
          },
        }
      : {}),
    ...(hub ? { onRecord: hub.record } : {}),
    ...(progress ? { onProgress: progress } : {}),
  }).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
  if (!opts.json)
    out(
      `\n${seen.of(played)}\n` +
        `Nothing was changed. In a cluster the same Triggers route the same events: see knative/, docs/local.md and docs/events.md.\n`,
    );
  if (hub && opts.html !== undefined) {
    const to = given(opts.html);
    try {
      writeFileSync(to, hub.report(`Reflex replay of ${basename(file)}`));
    } catch (err) {
      fail(`--html ${opts.html}: ${(err as Error).message}`);
    }
    (opts.json ? process.stderr : process.stdout).write(`The report: ${shown(to)} (open it in a browser; it needs no network).\n`);
  }
  // A delivery that failed is a problem found: what would fail in a cluster too.
  if (seen.problems() > 0) process.exitCode = EXIT_PROBLEMS;
}

/** The banner's line on traces, when they are exported (docs/tracing.md); nothing otherwise. */
function tracesLine(): string {
  const t = tracingFrom(process.env, 'reflex-dev');
  return t ? `  traces: OTLP ${t.protocol} to ${t.url} (docs/tracing.md)\n` : '';
}

/** Where `npm start` writes its replay as a page: .reflex/ in the working directory (gitignored). */
function startReport(): string {
  const dir = resolve('.reflex');
  mkdirSync(dir, { recursive: true });
  return join(dir, 'incident.html');
}

/** A start-up failure, said with what to do about it. */
function startFailure(err: unknown, port: number): never {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE')
    fail(
      `port ${port} is in use (another reflex dev?): choose another with --port, e.g. --port ${port + 1}, or --port 0 for any free port`,
    );
  if (e.code === 'EACCES') fail(`port ${port} is not open to this user (below 1024 it needs privileges): choose another with --port`);
  return fail(e instanceof Error ? e.message : String(err));
}

function unreachable(err: unknown): never {
  if (err instanceof ClusterUnreachable)
    fail(
      `${err.message}\n  Is the cluster running? Check with: kubectl --context ${err.context} cluster-info; or switch context: kubectl config use-context <name>.\n  ${OFFLINE}`,
    );
  return fail(`${(err as Error).message}\n  ${OFFLINE}`);
}

type Mode = 'cluster' | 'none' | 'recording';

/** `auto` is `cluster` when there is a kubeconfig, else `none`; anything else names a recording. */
const modeOf = (source: string, kubeconfig: string | undefined): Mode =>
  source === 'cluster' || (source === 'auto' && kubeconfig) ? 'cluster' : source === 'auto' || source === 'none' ? 'none' : 'recording';

/** Why --act cannot be honoured: a recording is replayed in dry-run, and with no kubeconfig there is no cluster. */
function noClusterToActOn(mode: Mode, kubeconfig: string | undefined): string | undefined {
  if (mode === 'recording') return 'a recording is replayed in dry-run (it has no cluster to act on); acting needs --source cluster';
  if (mode === 'none' && !kubeconfig) return 'with no kubeconfig there is no cluster to act on; acting needs one';
  return undefined;
}

/** What `dev` was asked for, checked before anything starts: usage errors exit 2, missing inputs 1. */
function devPlan(opts: Values): {
  mode: Mode;
  source: string;
  port: number;
  kubeconfig?: string;
  records?: Recorded[];
  rulesFile?: string;
} {
  const source = opts.source ?? 'auto';
  const port = Number(opts.port ?? 8080);
  if (opts.port !== undefined && (!/^\d+$/.test(opts.port) || port > 65535))
    usage('dev', `--port ${opts.port}: not a port number (0-65535)`);
  const kubeconfig = kubeconfigPath();
  const mode = modeOf(source, kubeconfig);
  const cannotAct = opts.act ? noClusterToActOn(mode, kubeconfig) : undefined;
  if (cannotAct) usage('dev', `--act: ${cannotAct}`);
  if (mode === 'cluster' && !kubeconfig) fail(`--source cluster: no kubeconfig found (KUBECONFIG or ~/.kube/config).\n  ${OFFLINE}`);
  const rulesFile = rulesOf(opts.rules);
  return {
    mode,
    source,
    port,
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(mode === 'recording' ? { records: recordingOf(source) } : {}),
    ...(rulesFile ? { rulesFile } : {}),
  };
}

/** On a terminal's stderr, a long recording's progress. */
function progressOf(opts: Values, records: readonly Recorded[]): ((done: number, total: number) => void) | undefined {
  if (opts.json || !process.stderr.isTTY || records.length <= 200) return undefined;
  return (done, total) => process.stderr.write(`\r${done}/${total} events${done === total ? '\n' : ''}`);
}

/** The banner's `source:` line. */
function sourceText(plan: ReturnType<typeof devPlan>, cluster: ClusterInfo | undefined, act: boolean): string {
  return plan.mode === 'cluster'
    ? `kube context ${cluster?.context} (${cluster?.server}), ${act ? 'ACTING: recover and scale may change it' : 'in dry-run'}`
    : plan.mode === 'recording'
      ? `${shown(plan.source)}, replayed on its own clock (dry-run, the cluster as the recording knows it); then what you POST`
      : `none: POST CloudEvents to the ingress${plan.kubeconfig ? '' : ' (no kubeconfig: the functions read an empty cluster)'}`;
}

async function devCommand(opts: Values): Promise<void> {
  const plan = devPlan(opts);
  const cluster: ClusterInfo | undefined =
    plan.kubeconfig && plan.mode === 'cluster' ? await probeCluster(undefined, plan.kubeconfig).catch(unreachable) : undefined;
  const colour = !opts.json && colourFor(process.stdout, process.env);
  // With --json, stdout carries only the lines; what is said to the person goes to stderr.
  const say = (s: string): boolean => (opts.json ? process.stderr : process.stdout).write(s);
  const seen = tally();
  const rendered = printer(colour);
  const print = (l: Line): void => {
    seen.add(l);
    out(opts.json ? jsonLine(l) : rendered(l));
  };
  const verbose = opts.verbose ? (line: string, svc: string) => say(`[${svc}] ${line}\n`) : undefined;
  // The web console, on the ingress's port (dev/console/hub.ts); made once the mesh is loaded, before any event.
  const web: { hub?: Console } = {};
  const common = {
    manifests: opts.manifests ? given(opts.manifests) : defaultManifests(),
    port: plan.port,
    logSink: (line: string, svc: string) => {
      web.hub?.log(line, svc);
      verbose?.(line, svc);
    },
    serve: (req: IncomingMessage, res: ServerResponse) => web.hub?.serve(req, res) ?? false,
  };
  // What the broker records and the functions log (their decisions, per CloudEvent), as timeline lines.
  const narrator = new Narrator(print);
  const signals = plan.rulesFile ? { REFLEX_RULES_FILE: plan.rulesFile } : undefined;
  // The replay's mesh, kept up: the functions get this shell's environment (notify's webhooks)
  // but no credentials for a cluster, which the recording stands for.
  const { KUBECONFIG: _k, KUBERNETES_SERVICE_HOST: _h, KUBERNETES_SERVICE_PORT: _p, ...env } = process.env;
  const recorded = plan.records
    ? await startRecordedMesh({
        ...common,
        live: true,
        env,
        onLine: print,
        onRecord: (r) => web.hub?.record(r),
        ...(plan.rulesFile ? { rulesFile: plan.rulesFile } : {}),
      }).catch((err: unknown) => startFailure(err, plan.port))
    : undefined;
  const running: RunningMesh =
    recorded?.running ??
    (await startMesh({
      ...common,
      act: opts.act === true,
      ...(signals ? { serviceEnv: { classify: signals, sweep: signals } } : {}),
      onRecord: (r) => {
        narrator.record(r);
        web.hub?.record(r);
      },
      logSink: (line, svc) => {
        narrator.log(line);
        common.logSink(line, svc);
      },
    }).catch((err: unknown) => startFailure(err, plan.port)));
  web.hub = createConsole(running.mesh);
  const ingress = running.mesh.brokers.map((b) => running.broker.ingress(b.namespace, b.name)).join(', ');
  for (const p of running.mesh.problems) process.stderr.write(`reflex: not loaded (the rest runs): ${p.message}\n`);
  const stops: (() => void)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops) s();
    await running.close(false);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  const warn = (m: string): boolean => process.stderr.write(`reflex: ${m}\n`);
  // The banner comes once the watches are open: from then on, what changes in the cluster is shown.
  if (cluster) say(`Opening the watches of the manifests' ApiServerSources on kube context ${cluster.context}…\n`);
  if (cluster)
    stops.push(
      await startApiServerWatches(running.mesh, running.broker, undefined, warn).catch((err: unknown) =>
        fail(`watching the cluster of kube context ${cluster.context} (${cluster.server}) failed: ${requestFault(err)}`),
      ),
    );
  say(
    `\nReflex dev: ${running.services.size} functions, broker ingress ${ingress}\n  source: ${sourceText(plan, cluster, opts.act === true)}\n` +
      `  console: ${running.broker.url}${CONSOLE_PATH}/ (open it in a browser; docs/console.md)\n${tracesLine()}  Ctrl-C to stop.\n\n`,
  );
  if (cluster && opts.pings !== false) stops.push(startPingSources(running.mesh, running.broker, warn));
  if (recorded && plan.records) {
    const fed = await recorded.feed(plan.records, progressOf(opts, plan.records));
    say(`\nThe recording is over: ${seen.of(fed)}\nThe ingress stays up: POST CloudEvents to ${ingress}; Ctrl-C to stop.\n\n`);
  }
}

async function validateCommand(opts: Values): Promise<void> {
  const dir = opts.manifests ? given(opts.manifests) : defaultManifests();
  const checked: string[] = [];
  const errors: string[] = [];
  const colour = !opts.json && colourFor(process.stdout, process.env);
  const ok = (m: string): void => {
    checked.push(m);
    if (!opts.json) out(`${colour ? '\u001b[32m✓\u001b[0m' : 'ok'} ${m}\n`);
  };
  const report = (): void => {
    if (opts.json) out(`${JSON.stringify({ valid: errors.length === 0, manifests: dir, checked, errors })}\n`);
    else {
      const red = colourFor(process.stderr, process.env);
      for (const e of errors) process.stderr.write(`${red ? '\u001b[31m✗\u001b[0m' : 'error'} ${e}\n`);
      if (!errors.length) out('valid\n');
    }
    if (errors.length) process.exitCode = EXIT_PROBLEMS;
  };
  let mesh;
  try {
    mesh = loadMesh(dir);
  } catch (err) {
    errors.push((err as Error).message);
    return report();
  }
  const count = (kind: string): number => mesh.objects.filter((o) => o.kind === kind).length;
  ok(`${dir}: ${mesh.objects.length} objects (${count('Broker')} Broker, ${count('Trigger')} Triggers, ${mesh.services.length} Services)`);
  errors.push(...mesh.problems.map((p) => p.message));
  for (const t of mesh.triggers) {
    try {
      compileFilter(t);
      const ref = t.subscriber.ref;
      if (ref?.kind === 'Service' && !mesh.services.some((s) => s.name === ref.name && s.namespace === (ref.namespace ?? t.namespace)))
        throw new Error(`${t.from}: Trigger ${t.name} subscribes Service ${ref.name}, which the manifests do not define`);
      ok(`Trigger ${t.name}`);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  for (const s of mesh.services) {
    const fn = s.args[0] ?? '';
    const def = await definitionOf(s);
    if (!def) {
      errors.push(`${s.from}: Service ${s.name} runs "${fn}", which is not a function in functions/`);
      continue;
    }
    try {
      // Each function's own configuration step reads and validates its files (rules, policies, routes).
      def.configure({ ...s.env });
      const files = Object.entries(s.env).filter(([, v]) => v.startsWith('/') && existsSync(v));
      ok(
        `Service ${s.name} (${fn})${files.length ? `: ${files.map(([k, v]) => `${k}=${v.replace(`${projectRoot()}/`, '')}`).join(', ')}` : ''}`,
      );
    } catch (err) {
      errors.push(`${s.from}: Service ${s.name}: ${(err as Error).message}`);
    }
  }
  report();
}

const [first, ...rest] = process.argv.slice(2);
const isCommand = (c: string | undefined): c is Names => c !== undefined && Object.hasOwn(COMMANDS, c);

if (first === undefined || first === '--help' || first === '-h') out(mainHelp());
else if (first === '--version') {
  const { version } = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string };
  out(`reflex ${version}\n`);
} else if (first === 'help') {
  const about = rest[0];
  if (about === undefined) out(mainHelp());
  else if (isCommand(about)) out(commandHelp(about));
  else usage(undefined, `no command ${about}; the commands are ${Object.keys(COMMANDS).join(', ')}`);
} else if (!isCommand(first))
  usage(
    undefined,
    `${first.startsWith('-') ? `unknown option ${first}` : `unknown command ${first}`}; the commands are ${Object.keys(COMMANDS).join(', ')}`,
  );
else if (first === 'start') {
  const { values, positionals } = parse('start', rest);
  const file = positionals[0];
  if (values.replay || file !== undefined || !kubeconfigPath()) {
    const why =
      file !== undefined
        ? 'given a recording, start replays it'
        : values.replay
          ? 'with --replay, start replays'
          : 'with no kubeconfig on this machine, start replays the bundled incident';
    if (values.act) usage('start', `--act: ${why}, and a replay never acts; acting needs a cluster (a kubeconfig, without --replay)`);
    if (values.port !== undefined)
      usage(
        'start',
        `--port: ${why}, and a replay serves no port; for one that stays up: npx reflex dev --source <recording> --port ${values.port}`,
      );
    if (values.pings === false) usage('start', `--no-pings: ${why}, and a replay runs no PingSource`);
    const path = file !== undefined ? given(file) : incident();
    const because =
      file !== undefined || values.replay ? '' : ' (no kubeconfig on this machine: with one, npm start runs against its cluster)';
    await replayCommand(path, {
      ...values,
      // The same replay as a page to open in a browser (the web console's, offline), unless asked otherwise.
      ...(values.html === undefined && !values.json ? { html: startReport() } : {}),
      banner:
        `\nReflex: replaying ${shown(path)}${because}\n` +
        'No cluster is contacted: the real functions run behind the development broker, in dry-run,\n' +
        'reading the cluster as the recording knows it.\n\n',
    });
  } else {
    if (values.html !== undefined)
      usage('start', '--html: with a cluster, start serves the web console live (its address is in the banner); --html is for a replay');
    await devCommand({ ...values, source: 'cluster' });
  }
} else if (first === 'dev') await devCommand(parse('dev', rest).values);
else if (first === 'silence') {
  const { values, positionals } = parse('silence', rest);
  await silenceCommand(positionals, values as unknown as SilenceValues, { out, kubeconfig: kubeconfigPath() }).catch((err: unknown) =>
    err instanceof SilenceUsageError ? usage('silence', err.message) : fail(err instanceof Error ? err.message : String(err)),
  );
} else if (first === 'replay') {
  const { values, positionals } = parse('replay', rest);
  if (positionals[0] === undefined) usage('replay', `replay needs a recording.\n${RECORDING_FORMATS}`);
  await replayCommand(positionals[0], values);
} else await validateCommand(parse('validate', rest).values);
