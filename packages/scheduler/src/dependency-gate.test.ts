import type { TaskJson, TaskState } from '@hearth/core';
import { describe, expect, it } from 'vitest';
import { evaluateDependencies } from './dependency-gate.js';

const doc = (dependencies: TaskJson['dependencies']) => ({ dependencies }) as TaskJson;

describe('evaluateDependencies', () => {
  it('waits while a dependency runs, is ready when all succeeded, unfulfillable otherwise', () => {
    const states: Record<string, TaskState | undefined> = { a: 'FullyExecuting', b: 'Success' };
    const d = doc({ dependsOn: ['a', 'b'] });
    expect(evaluateDependencies(d, (u) => states[u]).verdict).toEqual({ kind: 'waiting', on: ['a'] });
    states['a'] = 'Success';
    const ready = evaluateDependencies(d, (u) => states[u]);
    expect(ready.verdict.kind).toBe('ready');
    expect(ready.dependencies.state).toBe('dependencyConditionsFulfilled');
    states['a'] = 'Cancelled';
    expect(evaluateDependencies(d, (u) => states[u]).verdict.kind).toBe('unfulfillable');
    expect(evaluateDependencies(d, () => undefined).verdict.kind).toBe('unfulfillable');
  });

  it('honours the final states advancedDependsOn lists, success by default, and reports each dependency', () => {
    const d = doc({
      dependsOn: [],
      advancedDependsOn: [
        { taskUuid: 'x', taskFinalStateCondition: ['failure', 'cancelled'] },
        { taskUuid: 'y', taskFinalStateCondition: null },
      ],
    });
    const r = evaluateDependencies(d, (u) => (u === 'x' ? 'Failure' : 'Success'));
    expect(r.verdict.kind).toBe('ready');
    expect(r.dependencies.advancedDependsOn).toEqual([
      { taskUuid: 'x', taskFinalStateCondition: ['failure', 'cancelled'], state: 'dependencyConditionsFulfilled', actualFinalState: 'Failure' },
      { taskUuid: 'y', taskFinalStateCondition: null, state: 'dependencyConditionsFulfilled', actualFinalState: 'Success' },
    ]);
    expect(evaluateDependencies(d, () => 'Success').verdict.kind).toBe('unfulfillable');
  });

  it('says nothing about dependencies a task does not have', () => {
    const r = evaluateDependencies(doc({ dependsOn: [] }), () => undefined);
    expect(r.verdict.kind).toBe('ready');
    expect(r.dependencies).toEqual({ dependsOn: [] });
  });
});
