/**
 * sweep/handler — accepts a PingSource tick -> lists the current state of opted-in namespaces
 * (and nodes) -> decides which problems are news this window -> emits their signals to the
 * Broker -> replies with a summary. Covers what the edge-triggered bridge missed.
 */
import { createHash } from 'node:crypto';
import { resolvedEvent, SWEEP_COMPLETED_SCHEMA, SWEEP_COMPLETED_TYPE } from '../_contracts/events.js';
import type { Deps, Handler, HandlerContext } from '../_kit/index.js';
import { InternalError, retryOnConflict } from '../_kit/errors.js';
import { findingsOf, knownKind } from '../_signals/findings.js';
import type { Finding } from '../_signals/model.js';
import { ownerPortFor } from '../_signals/owners-kube.js';
import { resolveTarget } from '../_signals/owners.js';
import { Recent } from '../_signals/recent.js';
import { signalReply } from '../_signals/signal.js';
import type { SweepConfig } from './config.js';
import { sweepPort, type Plain, type SweepPort } from './port.js';
import { track, type Found } from './resolve.js';

export function sweepHandler(config: SweepConfig, deps: Deps): Handler<SweepConfig> {
  const port = sweepPort(deps.cluster);
  const ownerPort = ownerPortFor(config.owners, deps.cluster);
  /** Problems signalled in the current window, by this server. */
  const recent = new Recent();
  return async (_tick, ctx) => {
    if (!ctx.emit) throw new InternalError('sweep needs K_SINK (the Broker URL) to send the signals it finds');
    const now = ctx.now();
    const namespaces = await port.namespaces(config.namespaceSelector);
    const objects: Plain[] = [];
    const since = now.getTime() - config.eventLookbackSeconds * 1000;
    for (const ns of namespaces) {
      objects.push(...(await port.pods(ns)), ...(await port.deployments(ns)), ...(await port.jobs(ns)), ...(await port.claims(ns)));
      objects.push(...(await port.warningEvents(ns)).filter((e) => lastSeen(e) >= since));
    }
    const nodes = config.sweepNodes ? await port.nodes() : [];
    objects.push(...nodes);
    // As the node-Event source does, whether or not `default` opted in; if it did, the same Events
    // were read above, and one problem is signalled once (`sent`, below).
    if (config.sweepNodes) objects.push(...(await port.nodeWarningEvents()).filter((e) => lastSeen(e) >= since));

    const findings: Finding[] = [];
    for (const o of objects) {
      const kind = knownKind(o as { apiVersion?: unknown; kind?: unknown });
      if (!kind) continue;
      const out = findingsOf(kind, o, config.rules, now);
      if (out.kind === 'findings') findings.push(...out.findings);
    }

    // One signal per problem per window: the id is the problem key and the window's start.
    const windowMs = config.windowSeconds * 1000;
    const bucket = Math.floor(now.getTime() / windowMs);
    const sent = new Set<string>();
    const signals: { type: string; subject: string; key: string; id: string }[] = [];
    const found: Found[] = [];
    let held = 0;
    for (const f of findings) {
      const target = await resolveTarget(f.involved, ownerPort);
      const spec = signalReply(f, target, 'sweep');
      const key = spec.data.key;
      if (sent.has(key)) continue;
      sent.add(key);
      found.push({ key, class: f.class, severity: f.severity, reason: f.reason, target });
      if (recent.problems.ageWithin(key, now.getTime()) !== undefined) {
        held++;
        continue;
      }
      const id = `${key}-w${createHash('sha256').update(String(bucket)).digest('hex').slice(0, 12)}`;
      await ctx.emit(ctx.reply({ ...spec, id }));
      recent.problems.record(key, now.getTime(), windowMs);
      signals.push({ type: spec.type, subject: spec.subject, key, id });
    }
    const resolved = await resolveGone(ctx, port, found, now);
    ctx.log.info('sweep done', {
      namespaces: namespaces.length,
      objects: objects.length,
      findings: findings.length,
      emitted: signals.length,
      held,
      resolved: resolved.length,
    });
    return ctx.reply({
      type: SWEEP_COMPLETED_TYPE,
      dataschema: SWEEP_COMPLETED_SCHEMA,
      data: { namespaces, nodes: nodes.length, findings: findings.length, emitted: signals.length, held, signals, resolved },
    });
  };
}

/**
 * Problems found on earlier ticks and absent from this one for long enough are over: each gets a
 * dev.reflex.resolved (id derived from the problem and when it began, so a repeat is the same
 * event), then the open set is written back with a resourceVersion precondition; on a conflict
 * with another tick, it is all re-read and done again.
 */
async function resolveGone(ctx: HandlerContext<SweepConfig>, port: SweepPort, found: readonly Found[], now: Date): Promise<string[]> {
  return retryOnConflict(`ConfigMap of open problems`, async (attempt) => {
    if (attempt > 1) ctx.log.debug('open problems changed under this tick; re-reading', { attempt });
    const { state, resourceVersion } = await port.openProblems();
    const { open, resolved } = track(state, found, now, ctx.config.resolveAfterTicks);
    for (const p of resolved) {
      const t = p.target;
      const id = `resolved-${p.key}-${createHash('sha256').update(p.firstSeen).digest('hex').slice(0, 12)}`;
      await ctx.emit!(
        ctx.reply(
          resolvedEvent(id, {
            key: p.key,
            class: p.class,
            severity: p.severity,
            reason: p.reason,
            target: { ...(t.apiVersion ? { apiVersion: t.apiVersion } : {}), kind: t.kind, namespace: t.namespace, name: t.name },
            firstSeen: p.firstSeen,
            lastSeen: p.lastSeen,
            resolvedAt: now.toISOString(),
            resolvedBy: 'sweep',
          }),
        ),
      );
    }
    await port.saveOpen(open, resourceVersion);
    return resolved.map((p) => p.key);
  });
}

function lastSeen(e: Plain): number {
  const series = e['series'] as { lastObservedTime?: string } | undefined;
  const t = series?.lastObservedTime ?? (e['lastTimestamp'] as string | undefined) ?? (e['eventTime'] as string | undefined);
  const ms = t ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? 0 : ms;
}
