import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSecretValue } from '../../../../components/offline/capture';

/**
 * Checks values sent to the vSphere provider against the schema facts in
 * test/fixtures/schemas/vsphere-provider.json (see its PROVENANCE.md): token known, every property name
 * known (recursively through `ref` object types), every required property
 * present, scalar types right. Returns the problems as readable strings.
 */

export const SCHEMA_PATH = join(__dirname, '..', '..', '..', 'fixtures', 'schemas', 'vsphere-provider.json');

export interface PropSchema {
  type: string;
  required?: boolean;
  ref?: string;
  items?: string;
  additionalProperties?: string;
}
interface TypeSchema {
  properties: Record<string, PropSchema>;
}
export interface VsphereSchema {
  providerVersion: string;
  sourceDetail: { pluginDownloadURL: string | null };
  plugin: { pluginDownloadURLInSchema: string | null };
  provider: { token: string; inputs: Record<string, PropSchema>; jsonStringifiedInputs: string[] };
  resources: Record<string, { inputs: Record<string, PropSchema>; outputs: string[] }>;
  functions: Record<string, { inputs: Record<string, PropSchema>; outputTypes: Record<string, PropSchema> }>;
  types: Record<string, TypeSchema>;
}

export function loadSchema(path = SCHEMA_PATH): VsphereSchema {
  return JSON.parse(readFileSync(path, 'utf8')) as VsphereSchema;
}

function scalarOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return false;
  }
}

/** Secrets are checked by what they wrap. */
const unwrapOne = (v: unknown): unknown => (isSecretValue(v) ? unwrapOne(v.value) : v);

export function checkProperties(
  schema: VsphereSchema,
  props: Record<string, PropSchema>,
  values: Record<string, unknown>,
  where: string,
  opts: { stringified?: readonly string[] } = {},
): string[] {
  const problems: string[] = [];
  for (const [name, p] of Object.entries(props)) {
    if (p.required && values[name] === undefined) problems.push(`${where}: required input ${name} is missing`);
  }
  for (const [name, raw] of Object.entries(values)) {
    const p = props[name];
    if (!p) {
      problems.push(`${where}: ${name} is not an input in the schema`);
      continue;
    }
    const v = unwrapOne(raw);
    if (v === undefined) continue;
    if (opts.stringified?.includes(name)) {
      if (typeof v !== 'string') problems.push(`${where}.${name}: the provider expects a JSON-stringified ${p.type}, got ${typeof v}`);
      else if (!scalarOk(p.type, JSON.parse(v))) problems.push(`${where}.${name}: ${v} does not parse as ${p.type}`);
      continue;
    }
    problems.push(...checkValue(schema, p, v, `${where}.${name}`));
  }
  return problems;
}

export function checkValue(schema: VsphereSchema, p: PropSchema, raw: unknown, where: string): string[] {
  const v = unwrapOne(raw);
  if (p.type === 'array') {
    if (!Array.isArray(v)) return [`${where}: expected an array`];
    return v.flatMap((item, i) =>
      p.ref ? checkObject(schema, p.ref, unwrapOne(item), `${where}[${i}]`) : scalarOk(p.items ?? '', unwrapOne(item)) ? [] : [`${where}[${i}]: expected ${p.items}`],
    );
  }
  if (p.type === 'object') {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return [`${where}: expected an object`];
    if (p.ref) return checkObject(schema, p.ref, v, where);
    if (p.additionalProperties) {
      return Object.entries(v).flatMap(([k, x]) => (scalarOk(p.additionalProperties!, unwrapOne(x)) ? [] : [`${where}.${k}: expected ${p.additionalProperties}`]));
    }
    return [];
  }
  return scalarOk(p.type, v) ? [] : [`${where}: expected ${p.type}, got ${JSON.stringify(v)}`];
}

function checkObject(schema: VsphereSchema, ref: string, v: unknown, where: string): string[] {
  const t = schema.types[ref];
  if (!t) return [`${where}: type ${ref} is not in the schema`];
  if (!v || typeof v !== 'object' || Array.isArray(v)) return [`${where}: expected an object of type ${ref}`];
  return checkProperties(schema, t.properties, v as Record<string, unknown>, where);
}

/** Checks one registered resource (or the provider). */
export function checkResource(schema: VsphereSchema, type: string, inputs: Record<string, unknown>, where: string): string[] {
  if (type === schema.provider.token) {
    return checkProperties(schema, schema.provider.inputs, inputs, where, { stringified: schema.provider.jsonStringifiedInputs });
  }
  const r = schema.resources[type];
  if (!r) return [`${where}: resource token ${type} is not in the schema`];
  return checkProperties(schema, r.inputs, inputs, where);
}

/** Checks one invoke. */
export function checkInvoke(schema: VsphereSchema, token: string, args: Record<string, unknown>): string[] {
  const f = schema.functions[token];
  if (!f) return [`${token}: function token is not in the schema`];
  return checkProperties(schema, f.inputs, args, token);
}
