/**
 * notify/render — pure: a Message -> each service's documented payload.
 * @see https://api.slack.com/reference/block-kit/blocks (incoming webhooks accept text + blocks)
 * @see https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using (Adaptive Card attachment)
 * @see https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
 */
import { createHmac } from 'node:crypto';
import { bounded as boundDepth } from '../_kit/json.js';
import type { Message } from './decide.js';
import { keepTail, pagerdutyEvidence, shares, SLACK_BLOCKS, slackEvidence, teamsEvidence, webhookEvidence } from './render-evidence.js';
import { truncate } from '../_signals/model.js';

const EMOJI = { critical: ':rotating_light:', warning: ':warning:', info: ':information_source:' } as const;
/** Slack: header text ≤ 150 chars, section text ≤ 3000. PagerDuty summary ≤ 1024. */

/** Slack's mrkdwn reads &, < and > as markup: text from the cluster is escaped, as Slack asks. */
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** `[prod-eu] ` before a fallback text or a summary, when the cluster has a name. */
const at = (m: Message): string => (m.cluster ? `[${m.cluster}] ` : '');

export function slack(m: Message): Record<string, unknown> {
  const before = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: truncate(`${m.action === 'resolve' ? ':white_check_mark:' : EMOJI[m.severity]} ${m.title}`, 150),
        emoji: true,
      },
    },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*What*\n${truncate(esc(m.what), 1900)}` },
        { type: 'mrkdwn', text: `*Where*\n${truncate(esc(m.where), 1900)}` },
        ...(m.cluster ? [{ type: 'mrkdwn', text: `*Cluster*\n${esc(m.cluster)}` }] : []),
      ],
    },
    { type: 'section', text: { type: 'mrkdwn', text: `*Why*\n${truncate(esc(m.why), 2900)}` } },
  ];
  const after = [
    { type: 'section', text: { type: 'mrkdwn', text: `*Reflex*\n${truncate(esc(m.done), 2900)}` } },
    { type: 'section', text: { type: 'mrkdwn', text: '*Look closer*\n```' + truncate(esc(m.kubectl.join('\n')), 2800) + '```' } },
    // A link: Slack reads <url|text>; the URL's &, < and > escaped as everywhere else in mrkdwn.
    ...(m.runbookUrl
      ? [{ type: 'section', text: { type: 'mrkdwn', text: `*Runbook*\n<${esc(m.runbookUrl)}|${truncate(esc(m.runbookUrl), 200)}>` } }]
      : []),
    ...(m.silence
      ? [{ type: 'section', text: { type: 'mrkdwn', text: '*Silence it*\n```' + truncate(esc(m.silence), 2800) + '```' } }]
      : []),
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `${m.cluster ? `cluster ${esc(m.cluster)} · ` : ''}severity ${m.severity} · problem ${m.key}` }],
    },
  ];
  // The evidence after Why, in what is left of Slack's 50 blocks.
  const evidence = m.evidence ? slackEvidence(m.evidence, esc, SLACK_BLOCKS - before.length - after.length) : [];
  return { text: truncate(esc(`[${m.severity}] ${at(m)}${m.title}: ${m.why}`), 3000), blocks: [...before, ...evidence, ...after] };
}

export function teams(m: Message): Record<string, unknown> {
  return m.evidence ? teamsEvidence(m.evidence, (elements) => card(m, elements)) : card(m, []);
}

/** The Adaptive Card, the evidence's elements after Why. */
function card(m: Message, evidence: readonly Record<string, unknown>[]): Record<string, unknown> {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            {
              type: 'TextBlock',
              size: 'Large',
              weight: 'Bolder',
              wrap: true,
              text: m.title,
              color:
                m.action === 'resolve'
                  ? 'Good'
                  : m.severity === 'critical'
                    ? 'Attention'
                    : m.severity === 'warning'
                      ? 'Warning'
                      : 'Default',
            },
            {
              type: 'FactSet',
              facts: [
                { title: 'What', value: m.what },
                { title: 'Where', value: m.where },
                ...(m.cluster ? [{ title: 'Cluster', value: m.cluster }] : []),
                { title: 'Severity', value: m.severity },
              ],
            },
            { type: 'TextBlock', wrap: true, text: m.why },
            ...evidence,
            { type: 'TextBlock', wrap: true, isSubtle: true, text: m.done },
            { type: 'TextBlock', wrap: true, fontType: 'Monospace', text: m.kubectl.join('\n\n') },
            ...(m.silence
              ? [
                  { type: 'TextBlock', wrap: true, weight: 'Bolder', text: 'Silence it' },
                  { type: 'TextBlock', wrap: true, fontType: 'Monospace', text: m.silence },
                ]
              : []),
          ],
          // Adaptive Cards 1.4: a button that opens the runbook.
          ...(m.runbookUrl ? { actions: [{ type: 'Action.OpenUrl', title: 'Runbook', url: m.runbookUrl }] } : {}),
        },
      },
    ],
  };
}

const PD_SEVERITY = { critical: 'critical', warning: 'warning', info: 'info' } as const;

/**
 * The dedup key: the problem, so repeats fold into one incident; with the cluster's name in it,
 * so the same workload in two clusters is two incidents of one PagerDuty service.
 */
const dedupKey = (m: Message, key: string): string => (m.cluster ? `reflex-${m.cluster}-${key}` : `reflex-${key}`);

/**
 * PagerDuty Events API v2 trigger. `source` is where it happens (the cluster, when it has a name,
 * else the workload), `component` what (the workload), as PagerDuty's fields ask.
 */
export function pagerduty(m: Message, routingKey: string): Record<string, unknown> {
  // Resolve the incident the problem's trigger opened: the same dedup key, nothing else is read.
  if (m.action === 'resolve')
    return { routing_key: routingKey, event_action: 'resolve', dedup_key: dedupKey(m, (m.data as { key: string }).key) };
  return m.evidence ? pagerdutyEvidence(m.evidence, (details) => trigger(m, routingKey, details)) : trigger(m, routingKey, {});
}

/** A trigger event; `evidence` joins its custom_details. */
function trigger(m: Message, routingKey: string, evidence: Record<string, unknown>): Record<string, unknown> {
  const workload = m.target.namespace ? `${m.target.namespace}/${m.target.name}` : m.target.name;
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey(m, m.key),
    payload: {
      summary: truncate(`${at(m)}${m.title}: ${m.why}`, 1024),
      source: m.cluster ?? workload,
      severity: PD_SEVERITY[m.severity],
      timestamp: m.at,
      component: m.cluster ? `${m.target.kind} ${workload}` : m.target.kind,
      group: m.target.namespace || 'cluster',
      class: m.class,
      custom_details: {
        what: m.what,
        where: m.where,
        why: m.why,
        reflex: m.done,
        kubectl: m.kubectl,
        reason: m.reason,
        ...(m.cluster ? { cluster: m.cluster } : {}),
        ...(m.runbookUrl ? { runbook: m.runbookUrl } : {}),
        ...(m.silence ? { silence: m.silence } : {}),
        ...evidence,
      },
    },
    ...(m.runbookUrl ? { links: [{ href: m.runbookUrl, text: 'Runbook' }] } : {}),
    client: 'Reflex',
  };
}

/** The webhook's `data` beyond this size loses first old log lines, then the evidence object, then the rest of the enrichment. */
const MAX_WEBHOOK_DATA = 64 * 1024;

const sizeOf = (v: unknown): number => JSON.stringify(v).length;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const linesOf = (log: unknown): string[] =>
  isRecord(log) && Array.isArray(log['lines']) ? log['lines'].filter((l): l is string => typeof l === 'string') : [];

/** `data` with the enrichment's logs replaced by `logs(lines of each)`. */
function withLogs(data: Record<string, unknown>, logs: (lines: string[][]) => string[][]): Record<string, unknown> {
  const e = data['enrichment'];
  if (!isRecord(e) || !Array.isArray(e['logs'])) return data;
  const all = e['logs'] as unknown[];
  const kept = logs(all.map(linesOf));
  return {
    ...data,
    enrichment: {
      ...e,
      logs: all.map((log, i) => {
        const lines = kept[i] ?? [];
        return isRecord(log) && lines.length < linesOf(log).length ? { ...log, lines, truncated: true } : log;
      }),
    },
  };
}

/** The enrichment's log lines within MAX_WEBHOOK_DATA, the newest of each log kept (all of them dropped if even that is too much). */
function cutLogs(data: Record<string, unknown>): Record<string, unknown> {
  const none = withLogs(data, (all) => all.map(() => []));
  const jsonCost = (line: string): number => JSON.stringify(line).length + 1;
  // A line of JSON costs its quoted text and a comma; a few passes absorb what that estimate misses.
  for (let room = MAX_WEBHOOK_DATA - sizeOf(none), pass = 0; room > 0 && pass < 4; pass++) {
    const cut = withLogs(data, (all) => {
      const given = shares(
        all.map((lines) => lines.reduce((n, l) => n + jsonCost(l), 0)),
        room,
      );
      return all.map((lines, i) => keepTail(lines, given[i]!, jsonCost).kept);
    });
    const size = sizeOf(cut);
    if (size <= MAX_WEBHOOK_DATA) return cut;
    room -= size - MAX_WEBHOOK_DATA;
  }
  return none;
}

/** The enrichment down to when it was gathered and its notes, saying what was left out. */
function enrichmentSummary(data: Record<string, unknown>): Record<string, unknown> {
  const e = data['enrichment'];
  if (!isRecord(e)) return data;
  const { gatheredAt, tookMs, complete, notes, pod } = e;
  const left = Object.keys(e).filter((k) => !['gatheredAt', 'tookMs', 'complete', 'notes', 'pod'].includes(k));
  return {
    ...data,
    enrichment: {
      gatheredAt,
      tookMs,
      complete,
      pod,
      notes: [...(Array.isArray(notes) ? notes : []), `notify left out ${left.join(', ')}: the webhook's data is bounded at 64 KiB`],
    },
  };
}

/**
 * The event's data for the webhook, bounded: cut at MAX_DEPTH (a sender's 100,000 nested arrays
 * must not overflow the stack in JSON.stringify), then, while over MAX_WEBHOOK_DATA, without the
 * oldest log lines (the message's evidence shows the newest), without the evidence object, and
 * with only the enrichment's summary and notes.
 */
function boundedData(data: unknown): unknown {
  const bounded = boundDepth(data);
  if (sizeOf(bounded) <= MAX_WEBHOOK_DATA || !isRecord(bounded)) return bounded;
  const logsCut = cutLogs(bounded);
  if (sizeOf(logsCut) <= MAX_WEBHOOK_DATA) return logsCut;
  const { evidence, ...rest } = logsCut as { evidence?: { api?: unknown } };
  const withoutObject = evidence ? { ...rest, evidence: { api: evidence.api } } : logsCut;
  if (sizeOf(withoutObject) <= MAX_WEBHOOK_DATA) return withoutObject;
  return enrichmentSummary(withoutObject);
}

/** The generic webhook body: the message and the event's data, bounded. */
export function webhook(m: Message): Record<string, unknown> {
  return {
    action: m.action ?? 'trigger',
    title: m.title,
    severity: m.severity,
    what: m.what,
    where: m.where,
    why: m.why,
    reflex: m.done,
    kubectl: m.kubectl,
    heldSinceLast: m.heldSinceLast,
    cluster: m.cluster ?? null,
    runbookUrl: m.runbookUrl ?? null,
    silence: m.silence ?? null,
    ...(m.evidence ? { evidence: webhookEvidence(m.evidence) } : {}),
    data: boundedData(m.data),
  };
}

/**
 * Webhook signature: `X-Reflex-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with
 * `X-Reflex-Timestamp: <unix seconds>`. Receivers recompute it over the raw body and reject
 * timestamps more than 5 minutes old (replays).
 */
export function sign(secret: string, timestamp: number, body: string): string {
  return 'v1=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}
