/** Silences: what a matcher may say, what it matches, and when a silence holds (issue 20). */
import { describe, expect, it } from '@jest/globals';
import {
  checkMatchers,
  compileSilence,
  parseDuration,
  parseMatcher,
  readSilences,
  silencing,
  stateOf,
  type Labels,
  type Silence,
} from './silences.js';

const labels: Labels = { class: 'crashloop', severity: 'warning', namespace: 'shop', target: 'deployment/web', reason: 'BackOff' };

describe('parseMatcher', () => {
  it.each([
    // The four operators, as Alertmanager writes them.
    ['class=crashloop', { name: 'class', op: '=', value: 'crashloop' }],
    ['namespace!=kube-system', { name: 'namespace', op: '!=', value: 'kube-system' }],
    ['target=~deployment/web-.*', { name: 'target', op: '=~', value: 'deployment/web-.*' }],
    ['reason!~Back.*', { name: 'reason', op: '!~', value: 'Back.*' }],
    // amtool's quotes come off; spaces around the operator are allowed.
    ['target =~ "deployment/(web|api)"', { name: 'target', op: '=~', value: 'deployment/(web|api)' }],
    // A target's kind is written as kubectl writes it, in any case: stored in lower case.
    ['target=Deployment/web', { name: 'target', op: '=', value: 'deployment/web' }],
  ])('%s', (text, matcher) => {
    expect(parseMatcher(text)).toEqual(matcher);
  });

  it.each([
    // A typo in a name is refused, naming the ones there are.
    ['clas=crashloop', /unknown name "clas"; matchers name class, severity, namespace, target, reason/],
    // A class or severity that does not exist would silence nothing.
    ['class=crashlop', /unknown class "crashlop"; the classes are crashloop,/],
    ['severity=high', /unknown severity "high"; the severities are info, warning, critical/],
    // A target needs its kind.
    ['target=web', /a target is <kind>\/<name>/],
    ['namespace=Shop_1', /not a namespace name/],
    // RE2 only: a lookahead or an unbalanced group is said plainly.
    ['reason=~(?=x)', /not a valid RE2 regular expression/],
    ['target=~(', /not a valid RE2 regular expression/],
    ['class=', /the value is empty/],
    ['crashloop', /expected <name><op><value>/],
  ])('%s is refused', (text, why) => {
    expect(() => parseMatcher(text)).toThrow(why);
  });

  it('refuses sets that would silence nearly everything, as Alertmanager does', () => {
    expect(() => checkMatchers([])).toThrow(/at least one matcher/);
    expect(() => checkMatchers([parseMatcher('class!=crashloop')])).toThrow(/nearly everything/);
    expect(() => checkMatchers([parseMatcher('target=~.*')])).toThrow(/nearly everything/);
    expect(() => checkMatchers([parseMatcher('target=~.+'), parseMatcher('class!=loadlow')])).not.toThrow();
  });
});

const silence = (matchers: string[], startsAt = '2026-11-22T10:00:00Z', endsAt = '2026-11-22T12:00:00Z'): Silence => ({
  id: '4f0c2a8e-6b1d-4c3e-9a7f-2d5e8b1c0a93',
  matchers: matchers.map(parseMatcher),
  startsAt,
  endsAt,
  createdBy: 'alice',
  comment: 'test',
  createdAt: startsAt,
});
const at = (t: string): number => Date.parse(t);

describe('silencing', () => {
  it.each([
    // Every matcher must match.
    [['class=crashloop', 'namespace=shop'], true],
    [['class=crashloop', 'namespace=ops'], false],
    // Regular expressions are anchored: web does not match web-2's whole value, nor the reverse.
    [['target=~deployment/we'], false],
    [['target=~deployment/we.*'], true],
    [['target=~deployment/web|statefulset/db'], true],
    [['class=crashloop', 'reason!~Back.*'], false],
    [['severity=warning', 'target!=deployment/api'], true],
  ])('%j matches: %s', (matchers, expected) => {
    const s = compileSilence(silence(matchers));
    expect(silencing([s], labels, at('2026-11-22T11:00:00Z')) !== undefined).toBe(expected);
  });

  it('holds from its start until (not including) its end', () => {
    const s = compileSilence(silence(['class=crashloop']));
    expect(silencing([s], labels, at('2026-11-22T09:59:59Z'))).toBeUndefined();
    expect(silencing([s], labels, at('2026-11-22T10:00:00Z'))).toBeDefined();
    expect(silencing([s], labels, at('2026-11-22T12:00:00Z'))).toBeUndefined();
    expect(
      ['pending', 'active', 'expired'].map((_, i) =>
        stateOf(s.silence, at(['2026-11-22T09:00:00Z', '2026-11-22T11:00:00Z', '2026-11-22T13:00:00Z'][i]!)),
      ),
    ).toEqual(['pending', 'active', 'expired']);
  });
});

describe('readSilences', () => {
  it('keeps the valid entries and names the others (a hand edit neither crashes notify nor silences by mistake)', () => {
    const good = silence(['class=crashloop']);
    const wide = { ...good, id: '00000000-0000-4000-8000-000000000000', matchers: [{ name: 'class', op: '!=', value: 'crashloop' }] };
    const { silences, invalid } = readSilences(
      { [good.id]: JSON.stringify(good), broken: '{', [wide.id]: JSON.stringify(wide), other: JSON.stringify(good) },
      () => true,
    );
    expect(silences.map((s) => s.silence.id)).toEqual([good.id]);
    expect(invalid).toEqual([
      expect.stringMatching(/^broken: /),
      expect.stringMatching(/nearly everything/),
      expect.stringMatching(/^other: its id/),
    ]);
  });
});

describe('parseDuration', () => {
  it.each([
    ['1h', 3_600_000],
    ['90m', 5_400_000],
    ['1h30m', 5_400_000],
    ['1d', 86_400_000],
    ['2w', 1_209_600_000],
    ['0s', undefined],
    ['1.5h', undefined],
    ['', undefined],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));
});
