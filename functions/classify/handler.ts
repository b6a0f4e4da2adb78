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

export function classifyHandler(config: ClassifyConfig, deps: Deps): Handler<ClassifyConfig> {
  const owners = ownerPortFor(config.owners, deps.cluster);
  /** What this server signalled lately (per server, never shared). */
  const recent = new Recent();

  const skip = (ctx: HandlerContext<ClassifyConfig>, reason: string): undefined => {
    ctx.log.debug('no signal', { why: reason });
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
    const now = ctx.now();
    const outcome = findingsOf(kind, object, config.rules, now);
    if (outcome.kind === 'skip') return skip(ctx, outcome.reason);

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
