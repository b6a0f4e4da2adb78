/**
 * classify/handler — accepts a bridged Kubernetes object -> decides which signal it is (pure
 * rules and state checks) -> resolves the target workload -> replies with the signal, or 202.
 */
import type { Deps, Handler, HandlerContext, ValidEvent } from '../_kit/index.js';
import { findingsOf, knownKind, OBJECT_SCHEMAS } from '../_signals/findings.js';
import type { Finding } from '../_signals/model.js';
import { ownerPortFor } from '../_signals/owners-kube.js';
import { resolveTarget } from '../_signals/owners.js';
import { signalReply } from '../_signals/signal.js';
import type { ClassifyConfig } from './config.js';
import { Recent } from '../_signals/recent.js';

/** An occurrence seen again within this long is a duplicate delivery (Events live 1 h by default). */
const DUPLICATE_WINDOW_MS = 60 * 60 * 1000;
const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 } as const;
/** The extension the node-Event source sets on what it delivers (knative/source/apiserversource.yaml, ceOverrides). */
const SCOPE_EXTENSION = 'reflexscope';
const NODE_SCOPE = 'nodes';

export function classifyHandler(config: ClassifyConfig, deps: Deps): Handler<ClassifyConfig> {
  const owners = ownerPortFor(config.owners, deps.cluster);
  /** What this server signalled lately (per server, never shared). */
  const recent = new Recent();

  // Every decision is explained: `why` (and the `rule` that matched, if one did) on the request's
  // log line, which carries its CloudEvent id (ceId); `reflex replay` attaches it to the event. At
  // debug: one line per Event a cluster writes is too much for info (REFLEX_LOG_LEVEL=debug shows it).
  const skip = (ctx: HandlerContext<ClassifyConfig>, reason: string, rule?: string): undefined => {
    ctx.log.debug('no signal', { why: reason, ...(rule ? { rule } : {}) });
    return undefined;
  };

  return async (event: ValidEvent, ctx) => {
    if (event.type.endsWith('.delete')) return skip(ctx, 'a deleted object is not a problem');
    if (event.type.startsWith('dev.knative.apiserver.ref.')) {
      ctx.log.warn('Reference-mode events carry no object to classify; set the ApiServerSource to mode: Resource');
      return undefined;
    }
    const object = event.data as Record<string, unknown>;
    const kind = knownKind(object);
    if (!kind) return skip(ctx, `${String(object['apiVersion'])} ${String(object['kind'])} is not a kind classify reads`);
    ctx.validate(OBJECT_SCHEMAS[kind], object, 'data');
    // The source reflex-node-events watches all of `default` for the Node Events the kubelet and
    // node-problem-detector write there; it speaks for Nodes only, so Pods in a `default` that did
    // not opt in stay unwatched. If `default` is opted in too, reflex-events delivers the same Node
    // Event again: the same occurrence, which `recent` below drops as a duplicate delivery.
    if (event[SCOPE_EXTENSION] === NODE_SCOPE && !aboutNode(object))
      return skip(ctx, 'from the node-Event source, which only speaks for Nodes');
    const now = ctx.now();
    const outcome = findingsOf(kind, object, config.rules, now);
    if (outcome.kind === 'skip') return skip(ctx, outcome.reason, outcome.rule);

    const fresh = outcome.findings.filter(
      (f) => recent.ageWithin(`${f.class}|${f.occurrence}`, DUPLICATE_WINDOW_MS, now.getTime()) === undefined,
    );
    if (fresh.length === 0) return skip(ctx, 'duplicate delivery of an occurrence already signalled');
    const first = [...fresh].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity])[0]!;

    const target = await resolveTarget(first.involved, owners);
    const spec = signalReply(first, target, 'classify');
    const repeatMs = outcome.repeatAfterSeconds * 1000;
    const age = recent.ageWithin(spec.data.key, repeatMs, now.getTime());
    remember(recent, first, now.getTime());
    if (age !== undefined)
      return skip(
        ctx,
        `${first.class} on ${spec.subject} was signalled ${Math.round(age / 1000)}s ago (repeatAfterSeconds ${outcome.repeatAfterSeconds})`,
        first.rule,
      );
    recent.record(spec.data.key, now.getTime());
    if (fresh.length > 1)
      ctx.log.info('more problems on the same object; the sweep reports them', {
        also: fresh.filter((f) => f !== first).map((f) => f.class),
      });
    return ctx.reply(spec);
  };
}

function remember(recent: Recent, f: Finding, now: number): void {
  recent.record(`${f.class}|${f.occurrence}`, now);
}

/** An Event about a Node (core/v1 involvedObject, events.k8s.io/v1 regarding). */
function aboutNode(object: Record<string, unknown>): boolean {
  const about = (object['involvedObject'] ?? object['regarding']) as { kind?: unknown } | undefined;
  return object['kind'] === 'Event' && about?.kind === 'Node';
}
