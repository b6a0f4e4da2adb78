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

export function slack(m: Message): Record<string, unknown> {
  return {
    text: cut(esc(`[${m.severity}] ${m.title}: ${m.why}`), 3000),
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
        ],
      },
      { type: 'section', text: { type: 'mrkdwn', text: `*Why*\n${cut(esc(m.why), 2900)}` } },
      { type: 'section', text: { type: 'mrkdwn', text: `*Reflex*\n${cut(esc(m.done), 2900)}` } },
      { type: 'section', text: { type: 'mrkdwn', text: '*Look closer*\n```' + cut(esc(m.kubectl.join('\n')), 2800) + '```' } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `severity ${m.severity} · problem ${m.key}` }] },
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
                { title: 'Severity', value: m.severity },
              ],
            },
            { type: 'TextBlock', wrap: true, text: m.why },
            { type: 'TextBlock', wrap: true, isSubtle: true, text: m.done },
            { type: 'TextBlock', wrap: true, fontType: 'Monospace', text: m.kubectl.join('\n\n') },
          ],
        },
      },
    ],
  };
}

const PD_SEVERITY = { critical: 'critical', warning: 'warning', info: 'info' } as const;

/** PagerDuty Events API v2 trigger; the dedup key is the problem, so repeats fold into one incident. */
export function pagerduty(m: Message, routingKey: string): Record<string, unknown> {
  // Resolve the incident the problem's trigger opened: the same dedup key, nothing else is read.
  if (m.action === 'resolve')
    return { routing_key: routingKey, event_action: 'resolve', dedup_key: `reflex-${(m.data as { key: string }).key}` };
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: `reflex-${m.key}`,
    payload: {
      summary: cut(`${m.title}: ${m.why}`, 1024),
      source: m.target.namespace ? `${m.target.namespace}/${m.target.name}` : m.target.name,
      severity: PD_SEVERITY[m.severity],
      timestamp: m.at,
      component: m.target.kind,
      group: m.target.namespace || 'cluster',
      class: m.class,
      custom_details: { what: m.what, where: m.where, why: m.why, reflex: m.done, kubectl: m.kubectl, reason: m.reason },
    },
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
