/**
 * The two kinds of action a compiled machine runs (lib/statechart/compile.ts):
 * an `update` of the context and an `effect` asked of the world. Each is an
 * ordinary XState action (`assign`, `emit`), so XState's interpreter runs the
 * machine as it always does; and each remembers the function it was made
 * from, so the compiler can run the very same function on the fast path.
 * A machine that wants to be compiled defines its actions with these two (or
 * as plain functions); anything else is refused at start-up, by name.
 */
import {
  type ActionFunction,
  type AnyEventObject,
  type Assigner,
  assign,
  type EventObject,
  emit,
  type LowInfer,
  type MachineContext,
  type ParameterizedObject,
  type ProvidedActor,
  type SendExpr,
} from 'xstate';

/** The function behind an update or an effect, as the fast path calls it: `(args, params)`. */
export type ActionSource =
  | {
      readonly kind: 'update';
      readonly run: (args: ActionRunArgs, params: unknown) => Record<string, unknown>;
    }
  | {
      readonly kind: 'effect';
      readonly run: (args: ActionRunArgs, params: unknown) => EventObject;
    };

/** What an action is called with on the fast path: the context as it is now, and the event. */
export interface ActionRunArgs {
  readonly context: MachineContext;
  readonly event: EventObject;
  readonly self: unknown;
}

const sources = new WeakMap<object, ActionSource>();

/** The update or effect `action` was made from, if it was made by `update()` or `effect()`. */
export function sourceOf(action: unknown): ActionSource | undefined {
  return typeof action === 'function' ? sources.get(action) : undefined;
}

/**
 * An update of the context: XState's `assign` with a function that returns
 * the changed fields. The function must be pure: the fast path runs it too.
 */
export function update<
  TContext extends MachineContext,
  TExpressionEvent extends EventObject,
  TParams extends ParameterizedObject['params'] | undefined,
  TEvent extends EventObject,
  TActor extends ProvidedActor,
>(
  assigner: Assigner<LowInfer<TContext>, TExpressionEvent, TParams, TEvent, TActor>,
): ActionFunction<TContext, TExpressionEvent, TEvent, TParams, TActor, never, never, never, never> {
  const action = assign(assigner);
  sources.set(action, {
    kind: 'update',
    run: assigner as unknown as Extract<ActionSource, { kind: 'update' }>['run'],
  });
  return action;
}

/**
 * An effect: XState's `emit` of an event that names what the world should do
 * (write these replies, read these sensors). The machine does no I/O; the
 * actor that runs it listens (`actor.on(type, handler)`) and answers with
 * events. The function must be pure: it only describes the effect.
 */
export function effect<
  TContext extends MachineContext,
  TExpressionEvent extends EventObject,
  TParams extends ParameterizedObject['params'] | undefined,
  TEvent extends EventObject,
  TEmitted extends AnyEventObject,
>(
  describe: SendExpr<TContext, TExpressionEvent, TParams, TEmitted, TEvent>,
): ActionFunction<
  TContext,
  TExpressionEvent,
  TEvent,
  TParams,
  never,
  never,
  never,
  never,
  TEmitted
> {
  const action = emit<TContext, TExpressionEvent, TParams, TEvent, TEmitted>(describe);
  sources.set(action, {
    kind: 'effect',
    run: describe as unknown as Extract<ActionSource, { kind: 'effect' }>['run'],
  });
  return action;
}
