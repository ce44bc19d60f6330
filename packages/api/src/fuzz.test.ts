/**
 * Property-based fuzzing of every route in the API's own router table: generated and mutated JSON bodies, bodies
 * that are not JSON, random path parameters, query strings and methods. The server must never answer 5xx, and every
 * 4xx must carry a JSON `message` (the Qarnot SDKs read it). Requests go over a raw `node:http` client so that any
 * method, any body on any method and any byte sequence can be sent.
 */
import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteSpec } from './router.js';
import { startTestApi, taskBody, type TestApi } from './test-support/test-api.js';

let t: TestApi;
let routes: readonly RouteSpec[];
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const BOB_TOKEN = 'bob@example.com-token';

/** Entities that exist, so that mutated PUTs and DELETEs also reach the update paths, not only the 404s. */
const fixtures = { task: '', taskShort: 'fuzz-task', pool: '', poolShort: 'fuzz-pool', job: '', jobShort: 'fuzz-job', secret: 'fuzz/secret' };

interface RawRequest {
  method: string;
  path: string;
  body?: Buffer | string;
  headers?: Record<string, string>;
  token?: string | null;
}

interface RawResponse {
  status: number;
  contentType: string;
  text: string;
}

function send(req: RawRequest): Promise<RawResponse> {
  const url = new URL(t.url);
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
  const headers: Record<string, string> = { ...req.headers };
  const token = req.token === undefined ? 'alice-token' : req.token;
  if (token !== null) headers['authorization'] = token;
  if (body) {
    headers['content-length'] = String(body.length);
    headers['content-type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const r = http.request(
      { agent, host: url.hostname, port: url.port, method: req.method, path: req.path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

/** The property every answer must have. Throws (so fast-check shrinks) when it does not. */
function checkAnswer(req: RawRequest, res: RawResponse): void {
  const what = `${req.method} ${req.path.slice(0, 200)} → ${res.status} ${res.text.slice(0, 300)}`;
  expect(res.status, what).toBeGreaterThanOrEqual(200);
  expect(res.status, what).toBeLessThan(500);
  if (res.status >= 400 && req.method !== 'HEAD') {
    expect(res.contentType, what).toContain('json');
    const json = JSON.parse(res.text) as { message?: unknown };
    expect(typeof json.message, what).toBe('string');
    expect((json.message as string).length, what).toBeGreaterThan(0);
  }
}

async function roundTrip(req: RawRequest): Promise<void> {
  checkAnswer(req, await send(req));
}

// ---- generators ---------------------------------------------------------------------------------------------------

const nastyStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  '\ud800', // lone surrogate
  'a\udfffb',
  '💥🔥',
  'Ω≈ç√∫',
  '\u202e reversed',
  "'; DROP TABLE tasks; --",
  '%',
  '%00',
  '../../etc/passwd',
  '/^(a+)+$/',
  '/(/',
  '__proto__',
  'constructor',
  'prototype',
  'x'.repeat(5000),
  'y'.repeat(200_000),
  '00:00:00',
  '-1.00:00:00',
  '99999999.23:59:59.9999999',
  '1,3-8,9,12-19',
  '0-4294967296',
  '2024-02-30T25:61:61Z',
  'Flex',
  'flex',
  'GpuHardwareConstraint',
  'Equal',
  'And',
  'true',
  'null',
  '3f1c2b4a-0000-4000-8000-000000000000',
);

const nastyNumbers = fc.constantFrom(0, -0, -1, 1, 1.5, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, 5e-324);

function nest(depth: number, kind: 'array' | 'object' | 'filter'): unknown {
  let v: unknown = null;
  for (let i = 0; i < depth; i++) {
    switch (kind) {
      case 'array':
        v = [v];
        break;
      case 'object':
        v = { a: v };
        break;
      case 'filter':
        v = { operator: 'And', filters: v === null ? [] : [v] };
        break;
    }
  }
  return v;
}

/** Objects whose own keys are the prototype-pollution favourites (a literal `__proto__:` would set the prototype). */
function withOwnKey(target: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return target;
}
const pollution = fc.constantFrom('__proto__', 'constructor', 'prototype').map((k) =>
  withOwnKey({}, k, withOwnKey({ polluted: 'yes' }, '__proto__', { polluted: 'yes' })),
);

const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}, [null], { '': null }) },
  { weight: 3, arbitrary: nastyNumbers },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 3, arbitrary: nastyStrings },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  // Deeper documents (tens of thousands of levels) are sent as text in the last property.
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 33, max: 400 }), fc.constantFrom<'array' | 'object' | 'filter'>('array', 'object', 'filter')).map(([d, k]) => nest(d, k)) },
  { weight: 1, arbitrary: pollution },
  { weight: 1, arbitrary: fc.array(fc.constantFrom<unknown>('a', 1, null, { key: 'k', value: 'v' }), { maxLength: 2000 }) },
);

const weirdKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', 'UUID', 'State', 'NAME', 'Value', 'ResultsCacheTTLSec'),
  fc.string({ maxLength: 12 }),
);

/** A valid body for each route that takes one: the seeds the mutations start from. */
const FILTER = {
  operator: 'Or',
  filters: [
    { operator: 'Equal', field: 'Tags', value: 'a' },
    { operator: 'And', filters: [{ operator: 'In', field: 'Name', values: ['x', 'y'] }, { operator: 'Like', field: 'Name', value: '/^x/' }] },
    { operator: 'GreaterThan', field: 'CreationDate', value: '2020-01-01T00:00:00Z' },
  ],
};
const SCALING = {
  policies: [
    { type: 'Fixed', name: 'f', slotsCount: 2, enabledPeriods: [{ type: 'Always', name: 'always' }] },
    {
      type: 'ManagedTasksQueue',
      minTotalSlots: 0,
      maxTotalSlots: 4,
      scalingFactor: 0.5,
      enabledPeriods: [{ type: 'Weekly', days: ['monday'], startTimeUtc: '00:00:00', endTimeUtc: '12:00:00' }],
    },
  ],
};
const TASK = taskBody({
  shortname: 'seed',
  tags: ['a'],
  constants: [{ key: 'K', value: 'v' }],
  labels: { l: 'v' },
  advancedRanges: '1-3',
  instanceCount: 0,
  hardwareConstraints: [{ discriminator: 'MinimumCoreHardwareConstraint', coreCount: 1 }],
  forcedNetworkRules: [{ inbound: true, proto: 'tcp', port: '22' }],
  forcedConstants: [{ constantName: 'F', forcedValue: '1', access: 'ReadOnly' }],
  dependencies: { dependsOn: [] },
  advancedResourceBuckets: [{ bucketName: 'b', filtering: { prefixFiltering: { prefix: 'p/' } }, cacheTTLSec: 5 }],
  retrySettings: { maxTotalRetries: 1 },
  secretsAccessRights: { bySecret: [{ key: 'k' }], byPrefix: [{ prefix: 'p/' }] },
  completionTimeToLive: '00:01:00',
  resultsWhitelist: '.*',
  schedulingType: 'flex',
});
const POOL = {
  name: 'p',
  profile: 'docker-batch',
  instanceCount: 1,
  tags: ['a'],
  elasticProperty: { isElastic: true, minTotalSlots: 0, maxTotalSlots: 3, rampResizeFactor: 0.5 },
  scaling: SCALING,
  multiSlotsSettings: { slotsPerNode: 2 },
  preparationTask: { commandLine: 'true' },
  defaultRetrySettings: { maxTotalRetries: 2 },
};
const JOB = { name: 'j', shortname: 'seed-job', tags: ['a'], useDependencies: true, maxWallTime: '01:00:00', state: '' };
const PAGE = { filter: FILTER, token: null, maximumResults: 5, orderBy: 'Name', orderType: 'Descending' };
const SEARCH = { Select: { Fields: ['Name', 'Tags'] }, Filter: FILTER, MaximumResults: 3 };

function seedFor(route: RouteSpec): unknown {
  const p = route.path;
  if (p.endsWith('/scaling')) return SCALING;
  if (p.endsWith('/paginate')) return PAGE;
  if (p.endsWith('/search')) return SEARCH;
  if (p.startsWith('/secrets-manager/data')) return { Value: 'secret' };
  if (p.startsWith('/tasks')) return route.method === 'PUT' ? { tags: ['b'], constants: [] } : TASK;
  if (p.startsWith('/pools')) return route.method === 'PUT' ? { tags: ['updated'], elasticProperty: { isElastic: false } } : POOL;
  if (p.startsWith('/jobs')) return route.method === 'PUT' ? { tags: ['b'] } : JOB;
  return {};
}

type Mutation =
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'delete'; at: number }
  | { kind: 'add'; at: number; key: string; value: unknown }
  | { kind: 'wrap'; at: number; asArray: boolean }
  | { kind: 'recase'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: weirdValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: weirdKey, value: weirdValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wrap' as const), at: fc.nat(), asArray: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('recase' as const), at: fc.nat() }) },
);

type Container = Record<string, unknown> | unknown[];
interface Slot {
  parent: Container;
  key: string | number;
}

function slots(value: unknown, out: Slot[] = [], depth = 0): Slot[] {
  if (depth > 12 || value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push({ parent: value, key: i });
      slots(v, out, depth + 1);
    });
  } else {
    for (const [k, v] of Object.entries(value)) {
      out.push({ parent: value as Record<string, unknown>, key: k });
      slots(v, out, depth + 1);
    }
  }
  return out;
}

function setSlot(s: Slot, value: unknown): void {
  if (Array.isArray(s.parent)) s.parent[s.key as number] = value;
  else withOwnKey(s.parent, s.key as string, value);
}

/** A fresh copy (generated constants are shared between runs and must not be mutated); keeps own `__proto__` keys. */
function fresh(v: unknown): unknown {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

/** Applies mutations to a deep copy of the seed; the root itself may be replaced. */
function mutate(seed: unknown, mutations: readonly Mutation[]): unknown {
  const root = { v: fresh(seed) };
  for (const mutation of mutations) {
    const m = 'value' in mutation ? { ...mutation, value: fresh(mutation.value) } : mutation;
    const all: Slot[] = [{ parent: root, key: 'v' }, ...slots(root.v)];
    const s = all[m.at % all.length]!;
    const current = (s.parent as Record<string | number, unknown>)[s.key];
    switch (m.kind) {
      case 'replace':
        setSlot(s, m.value);
        break;
      case 'delete':
        if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
        else if (s.parent !== (root as unknown)) delete s.parent[s.key as string];
        break;
      case 'add':
        if (current !== null && typeof current === 'object' && !Array.isArray(current)) withOwnKey(current as Record<string, unknown>, m.key, m.value);
        else if (Array.isArray(current)) current.push(m.value);
        else setSlot(s, withOwnKey({}, m.key, m.value));
        break;
      case 'wrap':
        setSlot(s, m.asArray ? [current] : { value: current });
        break;
      case 'recase':
        if (!Array.isArray(s.parent) && typeof s.key === 'string' && s.parent !== (root as unknown)) {
          delete s.parent[s.key];
          withOwnKey(s.parent, s.key.toUpperCase(), current);
        }
        break;
    }
  }
  return root.v;
}

/** `encodeURIComponent` refuses lone surrogates; the raw-bytes forms of those are in the constants below. */
const encode = (s: string) => encodeURIComponent(s.replace(/\p{Cs}/gu, '\ufffd'));

const pathParam: fc.Arbitrary<() => string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(() => fixtures.task, () => fixtures.taskShort, () => fixtures.pool, () => fixtures.poolShort, () => fixtures.job, () => fixtures.jobShort) },
  { weight: 1, arbitrary: fc.uuid().map((u) => () => u) },
  { weight: 2, arbitrary: nastyStrings.map((s) => () => encode(s.slice(0, 3000)) || 'x') },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '.', '%2e%2e', 'a%2Fb', 'summaries', 'paginate', '%00', '%ED%A0%80', '%FF%FE').map((s) => () => s) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).map((s) => () => encode(s)) },
);

const restParam: fc.Arbitrary<() => string> = fc
  .tuple(fc.array(pathParam, { minLength: 0, maxLength: 5 }), fc.boolean())
  .map(([parts, doubled]) => () => parts.map((p) => p()).join(doubled ? '//' : '/'));

const queryString: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('force', 'limit', 'offset', 'tag', 'cpuModel', 'comparisonDatacenter', 'activeOnly', '__proto__', 'constructor'), fc.string({ maxLength: 8 })),
      fc.oneof(
        fc.constantFrom('True', 'true', 'False', 'false', '1', '0', '-1', '1e999', 'NaN', '', '9'.repeat(400), 'a,b,,c'),
        fc.string({ unit: 'binary', maxLength: 20 }),
      ),
      fc.boolean(),
    ),
    { maxLength: 5 },
  )
  .map((pairs) =>
    pairs.length === 0
      ? ''
      : '?' + pairs.map(([k, v, raw]) => (raw ? `${encode(k)}=${v.replace(/[^\x21-\x7e]/g, '_')}` : `${encode(k)}=${encode(v)}`)).join('&'),
  );

function concretePath(route: RouteSpec, param: () => string, rest: () => string): string {
  return route.path.replace(/\{\*\w+\}/, () => rest()).replace(/\{\w+\}/g, () => param());
}

const routeIndex = () => fc.nat({ max: routes.length - 1 });
const token = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | null>('alice-token') },
  { weight: 1, arbitrary: fc.constantFrom<string | null>(null, 'Bearer alice-token', BOB_TOKEN, 'nope', 'Bearer ', '\t') },
);

// ---- the properties -----------------------------------------------------------------------------------------------

beforeAll(async () => {
  t = await startTestApi();
  routes = t.api.router.routes;
  await t.addUser('bob@example.com');
  const task = await t.call('POST', '/tasks', { body: taskBody({ shortname: fixtures.taskShort }) });
  const pool = await t.call('POST', '/pools', { body: { name: 'fp', profile: 'docker-batch', shortname: fixtures.poolShort } });
  const job = await t.call('POST', '/jobs', { body: { name: 'fj', shortname: fixtures.jobShort } });
  fixtures.task = task.json.uuid as string;
  fixtures.pool = pool.json.uuid as string;
  fixtures.job = job.json.uuid as string;
  await t.call('PUT', `/secrets-manager/data/${fixtures.secret}`, { body: { Value: 'v' } });
});
afterAll(async () => {
  agent.destroy();
  await t.close();
});

describe('fuzzing every route', () => {
  it('covers a router table with every method the API serves', () => {
    expect(routes.length).toBeGreaterThan(40);
    expect(new Set(routes.map((r) => r.method))).toEqual(new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']));
  });

  it('mutated valid bodies (wrong types, huge numbers, nulls, unicode, deep nesting, long strings, __proto__) → no 5xx', async () => {
    const bodyRoutes = routes.filter((r) => r.method !== 'GET' && r.method !== 'DELETE');
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          i: fc.nat({ max: bodyRoutes.length - 1 }),
          mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
          param: pathParam,
          rest: restParam,
          tok: token,
        }),
        async ({ i, mutations, param, rest, tok }) => {
          const route = bodyRoutes[i]!;
          const body = mutate(seedFor(route), mutations);
          await roundTrip({ method: route.method, path: concretePath(route, param, rest), body: JSON.stringify(body) ?? 'null', token: tok });
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('valid seed bodies, and arrays of them, are answered 2xx or a documented 4xx', async () => {
    for (const route of routes) {
      const body = seedFor(route);
      await roundTrip({ method: route.method, path: concretePath(route, () => fixtures.task, () => fixtures.secret), body: JSON.stringify(body) });
      await roundTrip({ method: route.method, path: concretePath(route, () => fixtures.pool, () => 'a/b'), body: JSON.stringify([body, body]) });
    }
  });

  it('arbitrary JSON values on any route and method → no 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.record({ i: routeIndex(), body: fc.jsonValue({ maxDepth: 6 }), param: pathParam, rest: restParam }), async ({ i, body, param, rest }) => {
        const route = routes[i]!;
        await roundTrip({ method: route.method, path: concretePath(route, param, rest), body: JSON.stringify(body) });
      }),
      { numRuns: 700 },
    );
  });

  it('bodies that are not JSON (bytes, truncated JSON, other content types) → no 5xx', async () => {
    const seeds = routes.map((r) => JSON.stringify(seedFor(r)));
    const notJson = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.tuple(fc.nat(), fc.nat()).map(([s, cut]) => {
        const text = seeds[s % seeds.length]!;
        return text.slice(0, cut % (text.length + 1));
      }),
      fc.constantFrom('', '{', '[', '"', '{"name":}', 'NaN', 'Infinity', '{"a":1}{"a":2}', '\ufeff{}', 'null', 'true', '1e999', '-', '[]]', Buffer.from([0xff, 0xfe, 0x00])),
    );
    const contentType = fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'application/json; charset=latin1');
    await fc.assert(
      fc.asyncProperty(fc.record({ i: routeIndex(), body: notJson, ct: contentType, param: pathParam }), async ({ i, body, ct, param }) => {
        const route = routes[i]!;
        await roundTrip({ method: route.method, path: concretePath(route, param, param), body, headers: { 'content-type': ct } });
      }),
      { numRuns: 600 },
    );
  });

  it('random paths, path parameters, query strings and methods → no 5xx', async () => {
    const method = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE') },
      { weight: 1, arbitrary: fc.constantFrom('HEAD', 'OPTIONS', 'PROPFIND', 'FOO', 'get') },
    );
    const segment = fc.oneof(
      fc.constantFrom('tasks', 'pools', 'jobs', 'paginate', 'summaries', 'search', 'secrets-manager', 'data', 'credits', 'v1', 'carbon', 'TASKS', 'openapi.json', 'profiles', 'hardware-constraints'),
      pathParam.map((p) => p()),
    );
    const randomPath = fc.array(segment, { maxLength: 6 }).map((s) => '/' + s.join('/'));
    const knownPath = fc.tuple(routeIndex(), pathParam, restParam).map(([i, p, r]) => concretePath(routes[i]!, p, r));
    await fc.assert(
      fc.asyncProperty(
        fc.record({ m: method, path: fc.oneof(randomPath, knownPath), query: queryString, tok: token, body: fc.option(weirdValue, { nil: undefined }) }),
        async ({ m, path, query, tok, body }) => {
          await roundTrip({ method: m, path: path + query, token: tok, ...(body === undefined ? {} : { body: JSON.stringify(body) ?? 'null' }) });
        },
      ),
      { numRuns: 900 },
    );
  });

  it('deep nesting, huge arrays and prototype keys at the top level of every route → no 5xx', async () => {
    const nasty: string[] = [
      '['.repeat(100_000) + ']'.repeat(100_000),
      '{"a":'.repeat(20_000) + 'null' + '}'.repeat(20_000),
      '{"filter":' + '{"operator":"And","filters":['.repeat(20_000) + ']}'.repeat(20_000) + '}',
      '{"Filter":' + '{"Operator":"or","Filters":['.repeat(2_000) + '{"operator":"Equal","field":"Name","value":"x"}' + ']}'.repeat(2_000) + '}',
      JSON.stringify({ Filter: nest(200, 'filter'), MaximumResults: 1 }),
      JSON.stringify(Array.from({ length: 20_000 }, () => 1)),
      JSON.stringify({ name: 'n', profile: 'docker-batch', tags: Array.from({ length: 50_000 }, (_, k) => `t${k}`) }),
      '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"name":"p","profile":"docker-batch"}',
      '{"name":"p","profile":"docker-batch","labels":{"__proto__":"x","constructor":"y"},"constants":[{"key":"__proto__","value":"v"}]}',
      '{"name":"a","NAME":"b","Name":null,"profile":"docker-batch"}',
      '{"policies":[' + '{"type":"Fixed","enabledPeriods":['.repeat(3_000) + ']}'.repeat(3_000) + ']}',
      '{"name":"n","profile":"docker-batch","labels":' + '{"x":'.repeat(5_000) + '"v"' + '}'.repeat(5_000) + '}',
      JSON.stringify({ Value: 'v'.repeat(2_000_000) }),
    ];
    for (const route of routes) {
      for (const body of nasty) {
        await roundTrip({ method: route.method, path: concretePath(route, () => fixtures.pool, () => 'deep/key'), body });
      }
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('prototype member names as orderBy, filter fields and Select fields are plain unknown names', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      for (const path of ['/tasks/paginate', '/pools/summaries/paginate', '/jobs/paginate']) {
        const order = await t.call('POST', path, { body: { orderBy: name } });
        expect(order.status, `${path} orderBy ${name}: ${order.text}`).toBe(400);
        expect(order.json.message).toContain(name);
        const filter = await t.call('POST', path, { body: { filter: { operator: 'Equal', field: name, value: 1 } } });
        expect(filter.status, `${path} field ${name}: ${filter.text}`).toBe(400);
        expect(filter.json.message).toContain(name);
      }
      const search = await t.call('POST', '/tasks/search', { body: { Select: { Fields: [name] }, MaximumResults: 1 } });
      expect(search.status).toBe(200);
      const key = name.charAt(0).toLowerCase() + name.slice(1);
      expect(Object.getOwnPropertyDescriptor(search.json[0], key)?.value, key).toBeNull();
    }
  });

  it('the server is still healthy and its data intact after the fuzzing', async () => {
    const info = await t.call('GET', '/info');
    expect(info.status).toBe(200);
    expect(info.json.email).toBe('alice@example.com');
    const list = await t.call('GET', '/tasks');
    expect(list.status).toBe(200);
    for (const task of list.json as { creationDate: string; hardwareConstraints: unknown }[]) {
      expect(Array.isArray(task.hardwareConstraints)).toBe(true);
      expect(task.creationDate).toMatch(/Z$/);
    }
    // Bob was fuzzed with too; nothing of Alice's leaked to him.
    const bob = await t.call('GET', '/tasks', { token: BOB_TOKEN });
    const aliceUuids = new Set((list.json as { uuid: string }[]).map((x) => x.uuid));
    for (const task of bob.json as { uuid: string }[]) expect(aliceUuids.has(task.uuid)).toBe(false);
  });
});
