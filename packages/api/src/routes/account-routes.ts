import { type ComputingQuotaJson, type HardwareConstraint, type UserInfoJson } from '@hearth/core';
import { badRequest, notFound } from '../api-error.js';
import type { ApiContext } from '../api-server.js';
import type { RouteSpec } from '../router.js';
import { findOr404, jsonReply } from './collection.js';

const FINAL_TASK_STATES = ['Success', 'Failure', 'Cancelled'];
const FINAL_POOL_STATES = ['Closed', 'Failure'];

/** The constraints this server's nodes can satisfy, listed for `GET /hardware-constraints`. */
function offeredConstraints(app: ApiContext): HardwareConstraint[] {
  const h = app.hardware;
  const cores: HardwareConstraint[] = [];
  for (let n = 1; n <= h.cores; n *= 2) cores.push({ discriminator: 'MinimumCoreHardwareConstraint', coreCount: n });
  return [
    ...cores,
    { discriminator: 'MaximumCoreHardwareConstraint', coreCount: h.cores },
    { discriminator: 'MinimumRamHardwareConstraint', minimumMemoryMB: h.memoryMB },
    { discriminator: 'MinimumRamCoreRatioHardwareConstraint', minimumMemoryGBCoreRatio: Math.floor(h.memoryMB / 1024 / h.cores) },
    h.gpu ? { discriminator: 'GpuHardwareConstraint' } : { discriminator: 'NoGpuHardwareConstraint' },
    { discriminator: 'CpuModelHardwareConstraint', cpuModel: h.cpuModel },
  ];
}

/** A non-negative integer query parameter, at most `range.max`; `range.fallback` when absent or empty. */
function intParam(query: URLSearchParams, name: string, range: { fallback: number; max: number }): number {
  const { fallback, max } = range;
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw badRequest(`Invalid query parameter '${name}': expected an integer from 0 to ${max}`, name);
  }
  return n;
}

/**
 * Billing and carbon routes answer for a self-hosted server: there is no billing, so credits are 0 and budgets
 * empty; energy is not metered, so carbon figures are 0 and say so in `equivalent_datacenter_name`.
 */
function carbonFacts(datacenter: string | null) {
  return {
    total_consumed_energy_Wh: 0,
    total_energy_it_Wh: 0,
    total_reused_energy_Wh: 0,
    qarnot_carbon_footprint: 0,
    equivalent_datacenter_name: datacenter ?? 'self-hosted (energy not metered)',
    equivalent_DC_carbon_footprint: 0,
    saved_carbon_footprint_compute: 0,
    saved_carbon_footprint_heat: 0,
    saved_carbon_footprint_compute_heat: 0,
    saved_carbon_footprint_percent: 0,
    PUE: 1,
    ERE: 1,
    ERF: 0,
    WUE: 0,
  };
}

export function accountRoutes(app: ApiContext): RouteSpec[] {
  const q = app.quotas;
  // One core per running instance on the local executor.
  const computing = (email: string) => {
    const running = app.execution?.runningInstances(email) ?? 0;
    const quota: ComputingQuotaJson = {
      maxCores: q.maxCores,
      runningCoresCount: running,
      maxInstances: q.maxInstances,
      runningInstancesCount: running,
    };
    return { running, quota };
  };
  return [
    {
      method: 'GET',
      path: '/settings',
      summary: 'Where storage is: `{storage}` (the S3 endpoint, or null without storage)',
      tag: 'account',
      handler: () => jsonReply(200, { storage: app.storage.url() }),
    },
    {
      method: 'GET',
      path: '/info',
      summary: "The user's account: email (the S3 access key), counts and quotas",
      tag: 'account',
      handler: async (ctx) => {
        const uid = ctx.user.id;
        const comp = computing(ctx.user.email);
        const [taskCount, runningTaskCount, poolCount, runningPoolCount, jobCount, usage] = await Promise.all([
          app.store.tasks.count(uid),
          app.store.tasks.count(uid, { excludeStates: FINAL_TASK_STATES }),
          app.store.pools.count(uid),
          app.store.pools.count(uid, { excludeStates: FINAL_POOL_STATES }),
          app.store.jobs.count(uid),
          app.storage.usage ? app.storage.usage(ctx.user.email) : Promise.resolve({ bucketCount: 0, bytes: 0 }),
        ]);
        const info: UserInfoJson = {
          email: ctx.user.email,
          maxBucket: q.maxBucket,
          bucketCount: usage.bucketCount,
          quotaBytesBucket: q.quotaBytesBucket,
          usedQuotaBytesBucket: usage.bytes,
          taskCount,
          maxTask: q.maxTask,
          runningTaskCount,
          maxRunningTask: q.maxRunningTask,
          maxInstances: q.maxInstances,
          maxFlexCores: q.maxCores,
          maxOnDemandCores: q.maxCores,
          maxPool: q.maxPool,
          poolCount,
          maxRunningPool: q.maxRunningPool,
          runningPoolCount,
          jobCount,
          maxJob: q.maxJob,
          runningInstanceCount: comp.running,
          runningCoreCount: comp.running,
          computingQuotas: {
            user: { flex: comp.quota, onDemand: comp.quota, reserved: [] },
            organization: { name: 'self-hosted', flex: comp.quota, onDemand: comp.quota, reserved: [] },
          },
          projects: [],
        };
        return jsonReply(200, info);
      },
    },
    {
      method: 'GET',
      path: '/quotas/computing-quotas/user',
      summary: "The user's computing quotas",
      tag: 'account',
      handler: (ctx) => {
        const { quota } = computing(ctx.user.email);
        return jsonReply(200, { flex: quota, onDemand: quota, reserved: [] });
      },
    },
    {
      method: 'GET',
      path: '/quotas/computing-quotas/organization',
      summary: "The organization's computing quotas (a self-hosted server is one organization)",
      tag: 'account',
      handler: (ctx) => {
        const { quota } = computing(ctx.user.email);
        return jsonReply(200, { name: 'self-hosted', flex: quota, onDemand: quota, reserved: [] });
      },
    },
    {
      method: 'GET',
      path: '/profiles',
      summary: 'Profile names',
      tag: 'profiles',
      handler: () => jsonReply(200, app.profiles.map((p) => p.name)),
    },
    {
      method: 'GET',
      path: '/profiles/{name}',
      summary: 'A profile with its constants',
      tag: 'profiles',
      handler: (ctx) => {
        const name = ctx.params['name']!;
        const p = app.profiles.find((x) => x.name.toLowerCase() === name.toLowerCase());
        if (!p) throw notFound(`Profile not found: '${name}'`);
        return jsonReply(200, { name: p.name, constants: p.constants });
      },
    },
    {
      method: 'GET',
      path: '/hardware-constraints',
      summary: "The hardware constraints this server's nodes satisfy (offset paging)",
      tag: 'hardware',
      handler: (ctx) => {
        const all = offeredConstraints(app);
        const limit = intParam(ctx.query, 'limit', { fallback: 50, max: 1000 });
        const offset = intParam(ctx.query, 'offset', { fallback: 0, max: 2 ** 31 - 1 });
        return jsonReply(200, { data: all.slice(offset, offset + limit), offset, limit, total: all.length });
      },
    },
    {
      method: 'GET',
      path: '/hardware-constraints/cpu-model-constraints/search',
      summary: 'CPU model constraints matching `?cpuModel=`, most relevant first',
      tag: 'hardware',
      handler: (ctx) => {
        const wanted = (ctx.query.get('cpuModel') ?? '').toLowerCase().trim();
        const model = app.hardware.cpuModel;
        const words = wanted.split(/\s+/).filter(Boolean);
        const hits = words.filter((w) => model.toLowerCase().includes(w)).length;
        return jsonReply(200, words.length === 0 || hits > 0 ? [{ discriminator: 'CpuModelHardwareConstraint', cpuModel: model }] : []);
      },
    },
    {
      method: 'GET',
      path: '/credits/v1/accounts/credits',
      summary: 'Account credits: always 0 on a self-hosted server (no billing)',
      tag: 'billing',
      handler: () => jsonReply(200, { credits: 0 }),
    },
    {
      method: 'GET',
      path: '/credits/v1/tasks/{id}/credits',
      summary: "A task's cost in credits: 0 on a self-hosted server",
      tag: 'billing',
      handler: async (ctx) => {
        await findOr404(app.store.tasks, ctx, 'task');
        return jsonReply(200, { credits: 0 });
      },
    },
    {
      method: 'GET',
      path: '/credits/v1/pools/{id}/credits',
      summary: "A pool's cost in credits: 0 on a self-hosted server",
      tag: 'billing',
      handler: async (ctx) => {
        await findOr404(app.store.pools, ctx, 'pool');
        return jsonReply(200, { credits: 0 });
      },
    },
    {
      method: 'GET',
      path: '/credits/v1/projects/{id}/budgets',
      summary: 'Budgets of a project: a self-hosted server has no projects',
      tag: 'billing',
      handler: (ctx) => {
        throw notFound(`Project not found: '${ctx.params['id']}' (a self-hosted server has no projects)`);
      },
    },
    {
      method: 'GET',
      path: '/carbon/v1/tasks/{id}/carbon-facts',
      summary: "A task's carbon facts: zeros, energy is not metered on a self-hosted server",
      tag: 'billing',
      handler: async (ctx) => {
        await findOr404(app.store.tasks, ctx, 'task');
        return jsonReply(200, carbonFacts(ctx.query.get('comparisonDatacenter')));
      },
    },
    {
      method: 'GET',
      path: '/carbon/v1/pools/{id}/carbon-facts',
      summary: "A pool's carbon facts: zeros, energy is not metered on a self-hosted server",
      tag: 'billing',
      handler: async (ctx) => {
        await findOr404(app.store.pools, ctx, 'pool');
        return jsonReply(200, carbonFacts(ctx.query.get('comparisonDatacenter')));
      },
    },
  ];
}

