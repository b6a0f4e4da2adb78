/**
 * notify/render — pure: a Message -> each service's documented payload.
 * @see https://api.slack.com/reference/block-kit/blocks (incoming webhooks accept text + blocks)
 * @see https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using (Adaptive Card attachment)
 * @see https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
 */
import { createHmac } from 'node:crypto';
import { bounded as boundDepth } from '../_kit/json.js';
import type { Message } from './decide.js';

const EMOJI = { critical: ':rotating_light:', warning: ':warning:', info: ':information_source:' } as const;
/** Slack: header text ≤ 150 chars, section text ≤ 3000. PagerDuty summary ≤ 1024. */
const cut = (s: string, n: number): string => (s.length <= n ? s : s.slice(0, n - 1) + '…');

/** Slack's mrkdwn reads &, < and > as markup: text from the cluster is escaped, as Slack asks. */
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** `[prod-eu] ` before a fallback text or a summary, when the cluster has a name. */
const at = (m: Message): string => (m.cluster ? `[${m.cluster}] ` : '');

export function slack(m: Message): Record<string, unknown> {
  return {
    text: cut(esc(`[${m.severity}] ${at(m)}${m.title}: ${m.why}`), 3000),
    blocks: [
      {
        type: 'header',
        text: {
          type: 'plain_text',
          text: cut(`${m.action === 'resolve' ? ':white_check_mark:' : EMOJI[m.severity]} ${m.title}`, 150),
          emoji: true,
        },
      },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: `*What*\n${cut(esc(m.what), 1900)}` },
          { type: 'mrkdwn', text: `*Where*\n${cut(esc(m.where), 1900)}` },
          ...(m.cluster ? [{ type: 'mrkdwn', text: `*Cluster*\n${esc(m.cluster)}` }] : []),
        ],
      },
      { type: 'section', text: { type: 'mrkdwn', text: `*Why*\n${cut(esc(m.why), 2900)}` } },
      { type: 'section', text: { type: 'mrkdwn', text: `*Reflex*\n${cut(esc(m.done), 2900)}` } },
      { type: 'section', text: { type: 'mrkdwn', text: '*Look closer*\n```' + cut(esc(m.kubectl.join('\n')), 2800) + '```' } },
      // A link: Slack reads <url|text>; the URL's &, < and > escaped as everywhere else in mrkdwn.
      ...(m.runbookUrl
        ? [{ type: 'section', text: { type: 'mrkdwn', text: `*Runbook*\n<${esc(m.runbookUrl)}|${cut(esc(m.runbookUrl), 200)}>` } }]
        : []),
      ...(m.silence ? [{ type: 'section', text: { type: 'mrkdwn', text: '*Silence it*\n```' + cut(esc(m.silence), 2800) + '```' } }] : []),
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `${m.cluster ? `cluster ${esc(m.cluster)} · ` : ''}severity ${m.severity} · problem ${m.key}` }],
      },
    ],
  };
}

export function teams(m: Message): Record<string, unknown> {
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
  const workload = m.target.namespace ? `${m.target.namespace}/${m.target.name}` : m.target.name;
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey(m, m.key),
    payload: {
      summary: cut(`${at(m)}${m.title}: ${m.why}`, 1024),
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
      },
    },
    ...(m.runbookUrl ? { links: [{ href: m.runbookUrl, text: 'Runbook' }] } : {}),
    client: 'Reflex',
  };
}

/** A signal's evidence beyond this size is left out of the webhook body (the rest of the data stays). */
const MAX_WEBHOOK_DATA = 64 * 1024;

/**
 * The event's data for the webhook, bounded: cut at MAX_DEPTH (a sender's 100,000 nested arrays
 * must not overflow the stack in JSON.stringify), and without the evidence object if still large.
 */
function boundedData(data: unknown): unknown {
  const bounded = boundDepth(data);
  if (JSON.stringify(bounded).length <= MAX_WEBHOOK_DATA) return bounded;
  const { evidence, ...rest } = bounded as { evidence?: { api?: unknown } };
  return evidence ? { ...rest, evidence: { api: evidence.api } } : bounded;
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
