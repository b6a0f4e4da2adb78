/** test/unit/contracts — the data types in functions/_contracts/events.ts hold to the JSON Schemas in schemas/, level by level. */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eventsFile = join(root, 'functions/_contracts/events.ts');

interface Schema {
  readonly $ref?: string;
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly pattern?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly items?: Schema;
  readonly [k: string]: unknown;
}

// The repo's own compiler options (strict, exactOptionalPropertyTypes, NodeNext), so optionality and
// literal unions read exactly as `tsc` sees them. Only the contracts module is a root: no type check, just the checker.
const tsconfig = ts.readConfigFile(join(root, 'tsconfig.json'), (f) => ts.sys.readFile(f)).config as { compilerOptions: unknown };
const { options } = ts.convertCompilerOptionsFromJson(tsconfig.compilerOptions, root);
const program = ts.createProgram([eventsFile], { ...options, noEmit: true });
const checker = program.getTypeChecker();
const source = program.getSourceFile(eventsFile);

function declaredType(name: string): ts.Type {
  const decl = source?.statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === name) as ts.InterfaceDeclaration | undefined;
  if (!decl) throw new Error(`no interface ${name} in ${eventsFile}`);
  return checker.getTypeAtLocation(decl.name);
}

/** Follows local `#/$defs/...` refs; sibling keywords (description) are kept, the ref's own win on conflict. */
function deref(s: Schema, doc: Schema): Schema {
  if (s.$ref === undefined) return s;
  if (!s.$ref.startsWith('#/')) throw new Error(`only local $refs are followed, not ${s.$ref}`);
  const target = s.$ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc) as Schema | undefined;
  if (!target) throw new Error(`dangling $ref ${s.$ref}`);
  const { $ref: _ref, ...siblings } = s;
  return deref({ ...siblings, ...target }, doc);
}

/** The members of a type, without the `undefined` an optional property adds (optionality is checked on its own). */
const members = (t: ts.Type): ts.Type[] => (t.isUnion() ? t.types : [t]).filter((m) => !(m.flags & ts.TypeFlags.Undefined));
const show = (ms: readonly ts.Type[]): string => ms.map((m) => checker.typeToString(m)).join(' | ');
const literals = (ms: readonly ts.Type[]): string[] | undefined =>
  ms.every((m) => m.isStringLiteral()) ? ms.map((m) => (m as ts.StringLiteralType).value).sort() : undefined;

/** Every way `type` departs from `schema`, each naming its path. */
function drift(schema: Schema, type: ts.Type, path: string, doc: Schema): string[] {
  const s = deref(schema, doc);
  const ms = members(type);
  if (s.enum) return enumDrift(s.enum, ms, path);
  if (s.type === 'string') return stringDrift(s, ms, path);
  const scalar = s.type === undefined ? undefined : SCALARS[s.type];
  if (scalar !== undefined) return ms.every((m) => m.flags & scalar) ? [] : [`${path}: schema ${s.type} vs TS ${show(ms)}`];
  const single = ms.length === 1 ? ms[0] : undefined;
  if (s.type === 'array') return arrayDrift(s, ms, path, doc);
  if (s.type === 'object') {
    if (!single || !(single.flags & ts.TypeFlags.Object)) return [`${path}: schema object vs TS ${show(ms)}`];
    if (s.properties) return objectDrift(s, single, path, doc);
    return typeof s.additionalProperties === 'object'
      ? mapDrift(s.additionalProperties as Schema, single, path, doc)
      : openObjectDrift(s, single, path);
  }
  return [`${path}: schema shape this test does not know (${JSON.stringify(s)})`];
}

/** Contracts use readonly arrays; the schema cannot say readonly, so either array form is accepted. */
function arrayDrift(s: Schema, ms: readonly ts.Type[], path: string, doc: Schema): string[] {
  const [only] = ms;
  const item = ms.length === 1 && only && checker.isArrayType(only) ? checker.getTypeArguments(only as ts.TypeReference)[0] : undefined;
  return item && s.items ? drift(s.items, item, `${path}[]`, doc) : [`${path}: schema array vs TS ${show(ms)}`];
}

const SCALARS: Readonly<Record<string, ts.TypeFlags>> = {
  integer: ts.TypeFlags.NumberLike,
  number: ts.TypeFlags.NumberLike,
  boolean: ts.TypeFlags.BooleanLike,
};

/** A string enum (severity, outcome, class) must be exactly the TS literal union. */
function enumDrift(values: readonly unknown[], ms: readonly ts.Type[], path: string): string[] {
  const want = values.map(String).sort();
  const got = literals(ms);
  return got && JSON.stringify(got) === JSON.stringify(want)
    ? []
    : [`${path}: schema enum [${want.join(', ')}] vs TS ${got ? `[${got.join(', ')}]` : show(ms)}`];
}

/**
 * A schema may leave a string open where TS narrows it: action's `verb` is only `pattern: ^[a-z]+$`
 * (the schema lists no verbs). TS may then be a literal union (ActionVerb), but each literal must still
 * satisfy the pattern, or producers would send what the schema rejects.
 */
function stringDrift(s: Schema, ms: readonly ts.Type[], path: string): string[] {
  if (!ms.every((m) => m.flags & (ts.TypeFlags.String | ts.TypeFlags.StringLiteral))) return [`${path}: schema string vs TS ${show(ms)}`];
  const pattern = s.pattern === undefined ? undefined : new RegExp(s.pattern, 'u');
  const bad = pattern ? (literals(ms) ?? []).filter((v) => !pattern.test(v)) : [];
  return bad.length ? [`${path}: TS literals [${bad.join(', ')}] fail schema pattern ${s.pattern}`] : [];
}

/** Same property names, optional in TS exactly when not required in the schema, and each property's type in turn. */
function objectDrift(s: Schema, type: ts.Type, path: string, doc: Schema): string[] {
  const props = s.properties ?? {};
  const required = new Set(s.required ?? []);
  const tsProps = new Map(checker.getPropertiesOfType(type).map((p) => [p.name, p]));
  const out: string[] = [];
  for (const r of required) if (!(r in props)) out.push(`${path}: schema requires ${r} but does not define it`);
  for (const name of tsProps.keys()) if (!(name in props)) out.push(`${path}.${name}: in TS, not in schema`);
  for (const [name, sub] of Object.entries(props)) {
    const p = tsProps.get(name);
    if (!p) {
      out.push(`${path}.${name}: in schema, not in TS`);
      continue;
    }
    const optional = (p.flags & ts.SymbolFlags.Optional) !== 0;
    if (optional === required.has(name)) {
      out.push(`${path}.${name}: schema ${required.has(name) ? 'required' : 'optional'} vs TS ${optional ? 'optional' : 'required'}`);
    }
    out.push(...drift(sub, checker.getTypeOfSymbol(p), `${path}.${name}`, doc));
  }
  return out;
}

/** `{ type: object, additionalProperties: {…} }` (an alert's labels) is a map: in TS, Record<string, T> with T as the values' schema says. */
function mapDrift(values: Schema, type: ts.Type, path: string, doc: Schema): string[] {
  const index = type.getStringIndexType();
  if (checker.getPropertiesOfType(type).length > 0 || index === undefined)
    return [`${path}: schema map vs TS ${checker.typeToString(type)} (want Record<string, …>)`];
  return drift(values, index, `${path}[*]`, doc);
}

/** `{ type: object }` with no properties (evidence.object) is any object: in TS, Record<string, unknown>. */
function openObjectDrift(s: Schema, type: ts.Type, path: string): string[] {
  if (s.additionalProperties === false) return [`${path}: schema object admits no properties at all`];
  const index = type.getStringIndexType();
  const open = checker.getPropertiesOfType(type).length === 0 && index !== undefined && (index.flags & ts.TypeFlags.Unknown) !== 0;
  return open ? [] : [`${path}: schema open object vs TS ${checker.typeToString(type)} (want Record<string, unknown>)`];
}

const pairs: readonly (readonly [string, string])[] = [
  ['SignalData', 'dev.reflex.signal.json'],
  ['ActionData', 'dev.reflex.action.json'],
  ['ResolvedData', 'dev.reflex.resolved.json'],
  ['AlertData', 'dev.reflex.alert.json'],
];

describe('event contracts match their schemas', () => {
  it.each(pairs)('%s <-> schemas/%s', (name, file) => {
    const doc = JSON.parse(readFileSync(join(root, 'schemas', file), 'utf8')) as Schema;
    // An empty list is the pass; otherwise jest prints every drift by path.
    expect(drift(doc, declaredType(name), name, doc)).toEqual([]);
  });
});
