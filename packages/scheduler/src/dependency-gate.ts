import { isFinalTaskState, type DependenciesJson, type TaskJson, type TaskState } from '@hearth/core';

export type DependencyVerdict =
  | { readonly kind: 'ready' }
  | { readonly kind: 'waiting'; readonly on: readonly string[] }
  | { readonly kind: 'unfulfillable'; readonly reason: string };

type Condition = 'success' | 'failure' | 'cancelled';

function conditionOf(state: TaskState): Condition | undefined {
  switch (state) {
    case 'Success':
      return 'success';
    case 'Failure':
      return 'failure';
    case 'Cancelled':
      return 'cancelled';
    default:
      return undefined;
  }
}

/**
 * Decides whether a task may start, from the current states of the tasks it depends on (`undefined` = no such task
 * any more). `dependsOn` needs Success; `advancedDependsOn` needs one of its listed final states (Success when none).
 * Also returns the dependencies object to store, with its `state` and per-dependency states.
 */
export function evaluateDependencies(
  doc: TaskJson,
  stateOf: (uuid: string) => TaskState | undefined,
): { verdict: DependencyVerdict; dependencies: DependenciesJson } {
  const wanted = new Map<string, Condition[]>();
  for (const uuid of doc.dependencies.dependsOn ?? []) wanted.set(uuid, ['success']);
  for (const a of doc.dependencies.advancedDependsOn ?? []) {
    wanted.set(a.taskUuid, (a.taskFinalStateCondition?.length ? a.taskFinalStateCondition : ['success']) as Condition[]);
  }
  const waitingOn: string[] = [];
  let failure: string | undefined;
  const advanced = (doc.dependencies.advancedDependsOn ?? []).map((a) => ({ ...a }));
  for (const [uuid, conditions] of wanted) {
    const state = stateOf(uuid);
    const entry = advanced.find((a) => a.taskUuid === uuid);
    if (state === undefined) {
      failure ??= `task ${uuid} it depends on no longer exists`;
      if (entry) Object.assign(entry, { state: 'dependencyConditionsNotFulfilled', actualFinalState: null });
      continue;
    }
    if (!isFinalTaskState(state)) {
      waitingOn.push(uuid);
      if (entry) Object.assign(entry, { state: 'waiting', actualFinalState: null });
      continue;
    }
    const got = conditionOf(state)!;
    const ok = conditions.includes(got);
    if (!ok) failure ??= `task ${uuid} it depends on ended ${state}, not ${conditions.join(' or ')}`;
    if (entry) {
      Object.assign(entry, { state: ok ? 'dependencyConditionsFulfilled' : 'dependencyConditionsNotFulfilled', actualFinalState: state });
    }
  }
  const verdict: DependencyVerdict = failure
    ? { kind: 'unfulfillable', reason: failure }
    : waitingOn.length
      ? { kind: 'waiting', on: waitingOn }
      : { kind: 'ready' };
  const dependencies: DependenciesJson = {
    dependsOn: doc.dependencies.dependsOn ?? [],
    ...(advanced.length ? { advancedDependsOn: advanced } : {}),
    ...(wanted.size
      ? {
          state:
            verdict.kind === 'ready'
              ? 'dependencyConditionsFulfilled'
              : verdict.kind === 'waiting'
                ? 'waiting'
                : 'dependencyConditionsNotFulfilled',
        }
      : {}),
  };
  return { verdict, dependencies };
}
