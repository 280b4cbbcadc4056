import { z } from 'zod';
import { ApiError, CLUSTER_PROTOCOL_VERSION } from '../protocol';
import { STATUS } from './http';
import type { AnyRoute } from './route';

/**
 * The OpenAPI 3.1 description of the hub's HTTP API, generated from the
 * route table (the same zod schemas the router validates with), served at
 * `GET /v1/openapi.json`. OpenAPI 3.1 schemas are JSON Schema 2020-12,
 * which zod emits directly.
 */
type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const s = jsonSchema(schema, 'input');
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, schema]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema,
    ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
  }));
}

const errorRef = { $ref: '#/components/schemas/ApiError' };

function errorResponses(r: AnyRoute): Record<string, JsonSchema> {
  const codes = new Set<number>([STATUS.bad_request, STATUS.not_found, STATUS.conflict, STATUS.not_active, STATUS.internal]);
  if (r.auth !== 'none') codes.add(STATUS.unauthorized);
  if (r.body || r.rawBody) {
    codes.add(STATUS.payload_too_large);
    codes.add(STATUS.unsupported_media_type);
  }
  const out: Record<string, JsonSchema> = {};
  for (const c of [...codes].sort()) out[String(c)] = { description: 'Error (see error.code)', content: { 'application/json': { schema: errorRef } } };
  return out;
}

function operationId(r: AnyRoute): string {
  const words = r.path
    .replace(/^\/v1\//, '')
    .split('/')
    .map((p) => (p.startsWith('{') ? `by-${p.slice(1, -1)}` : p));
  return [r.method.toLowerCase(), ...words].join('-').replace(/[^a-zA-Z0-9]+(.)/g, (_m, c: string) => c.toUpperCase());
}

export function openApiDocument(routes: readonly AnyRoute[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const r of routes) {
    const op: JsonSchema = {
      operationId: operationId(r),
      tags: [r.tag],
      summary: r.summary,
      security: r.auth === 'none' ? [] : [{ [r.auth === 'admin' ? 'adminToken' : 'clusterToken']: [] }],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      responses: {
        [String(r.status ?? 200)]: {
          description: 'OK',
          content: r.response ? { 'application/json': { schema: jsonSchema(r.response, 'output') } } : { [r.responseType ?? 'application/json']: {} },
        },
        ...errorResponses(r),
      },
    };
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } };
    if (r.rawBody) op.requestBody = { required: true, content: Object.fromEntries(r.rawBody.map((t) => [t, { schema: { type: 'string' } }])) };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'mailfleet hub API',
      version,
      description: `Admin API (admin token) and the member ↔ hub protocol v${CLUSTER_PROTOCOL_VERSION} (cluster token). Every error answers with an ApiError body naming the bad fields.`,
    },
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'The token in the hub’s adminTokenFile' },
        clusterToken: { type: 'http', scheme: 'bearer', description: 'The token in clusterTokenFile, for members only' },
      },
      schemas: { ApiError: jsonSchema(ApiError, 'output') },
    },
    paths,
  };
}
