/**
 * A lean actor that runs a compiled machine (lib/statechart/compile.ts): a
 * mailbox, the current atomic state and context, emitted effects, observers.
 * It keeps XState's actor contract where the server relies on it, so the
 * code that wires a connection treats it and an XState `Actor` alike:
 *
 * - events sent while an event is processed wait in the mailbox, in order;
 *   events sent before `start()` wait for it; events to an actor that is
 *   done, failed or stopped are dropped;
 * - within one event: the transition, then eventless transitions while they
 *   change something (XState's macrostep); `update`s change the context as
 *   they run, plain actions run inline, `effect`s are delivered to `on()`
 *   listeners once the event's macrostep is over, then observers see the
 *   snapshot;
 * - a throw in a guard or an action fails the actor: its effects are dropped,
 *   its observers get `error`; reaching a top-level final state completes it.
 *
 * It does less than XState's `Actor`: no actor system, no children, no
 * persistence. What it costs per event is a table lookup, the guards, the
 * actions and one context copy per update (docs/PERFORMANCE.md §11).
 */
import type {
  AnyStateMachine,
  ContextFrom,
  EmittedFrom,
  EventFromLogic,
  EventObject,
  InputFrom,
  Observer,
  StateValue,
  Subscription,
} from 'xstate';
import type { CompiledAction, CompiledMachine, CompiledTransition } from './compile.js';

export type MachineStatus = 'active' | 'done' | 'error' | 'stopped';

/** What `getSnapshot()` gives: XState's fields that the server reads. */
export interface MachineSnapshot<TContext> {
  readonly status: MachineStatus;
  readonly value: StateValue;
  readonly context: TContext;
  readonly output: undefined;
  readonly error: unknown;
}

/**
 * What an inspector sees of a compiled actor: the shapes of XState's
 * `@xstate.actor`, `@xstate.event`, `@xstate.microstep` and
 * `@xstate.snapshot` inspection events, so one observer serves both kinds of
 * actor.
 */
export type MachineInspectionEvent<TContext> =
  | {
      readonly type: '@xstate.actor';
      readonly actorRef: MachineActor<AnyStateMachine>;
      readonly rootId: string;
    }
  | {
      readonly type: '@xstate.event';
      readonly actorRef: MachineActor<AnyStateMachine>;
      readonly rootId: string;
      readonly sourceRef: undefined;
      readonly event: EventObject;
    }
  | {
      readonly type: '@xstate.microstep' | '@xstate.snapshot';
      readonly actorRef: MachineActor<AnyStateMachine>;
      readonly rootId: string;
      readonly event: EventObject;
      readonly snapshot: MachineSnapshot<TContext>;
    };

type Listener = { readonly type: string; readonly handler: (event: EventObject) => void };

/** XState's `reportUnhandledError`: a fault nobody handles surfaces as an uncaught exception. */
function reportUnhandledError(err: unknown): void {
  setTimeout(() => {
    throw err;
  });
}

/**
 * `list` and `item`, as a new array of exactly that length. Most actors
 * have one observer and one listener: a first `push` would give each list
 * room for 17 (152 bytes), on every connection of the server.
 */
function appended<T>(list: readonly T[] | null, item: T): T[] {
  return list === null ? [item] : [...list, item];
}

function toObserver<T>(observer: Observer<T> | ((value: T) => void)): Observer<T> {
  return typeof observer === 'function' ? { next: observer } : observer;
}

export class MachineActor<TMachine extends AnyStateMachine> {
  readonly id: string;
  /** XState's name for an actor's unique id; the same as `id` here (inspectors read it). */
  readonly sessionId: string;
  readonly #compiled: CompiledMachine;
  #state: number;
  #context: ContextFrom<TMachine>;
  #status: MachineStatus = 'active';
  #error: unknown;
  #started = false;
  #processing = false;
  /** Events waiting for the one being processed, or for `start()`. */
  #mailbox: EventObject[] | null = null;
  /** Plain actions and effects of the initial state, run at `start()`, as XState defers them. */
  #initialCalls: (() => void)[] | null = null;
  #initialEffects: EventObject[] | null = null;
  /** The event the actor starts with (`xstate.init`, with its input): inspectors see it at `start()`. */
  #initEvent: EventObject | null;
  #observers: Observer<MachineSnapshot<ContextFrom<TMachine>>>[] | null = null;
  #listeners: Listener[] | null = null;
  #inspectors: Observer<MachineInspectionEvent<ContextFrom<TMachine>>>[] | null = null;
  #snapshot: MachineSnapshot<ContextFrom<TMachine>> | null = null;

  /**
   * As `createActor`'s options: `inspect` sees the actor from its creation
   * (`@xstate.actor`) on, as `inspect()` sees it from when it is called.
   */
  constructor(
    compiled: CompiledMachine,
    options: {
      readonly id: string;
      readonly input: InputFrom<TMachine>;
      readonly inspect?: Observer<MachineInspectionEvent<ContextFrom<TMachine>>>;
    },
  ) {
    this.id = options.id;
    this.sessionId = options.id;
    this.#compiled = compiled;
    this.#state = compiled.initial.to;
    this.#context = undefined as unknown as ContextFrom<TMachine>;
    const initEvent: EventObject = { type: 'xstate.init', input: options.input } as EventObject;
    this.#initEvent = initEvent;
    const effects: EventObject[] = [];
    const calls: (() => void)[] = [];
    try {
      this.#context = compiled.createContext(options.input, this) as ContextFrom<TMachine>;
      this.#runActions(compiled.initial.actions, initEvent, effects, calls);
      this.#settle(initEvent, effects, calls);
      this.#initialCalls = calls;
      this.#initialEffects = effects;
    } catch (err) {
      this.#status = 'error';
      this.#error = err;
    }
    if (options.inspect) {
      this.#inspectors = [options.inspect];
      this.#inspect({
        type: '@xstate.actor',
        actorRef: this as MachineActor<AnyStateMachine>,
        rootId: this.id,
      });
    }
  }

  /** The machine it runs, where an XState actor has its logic (an inspector draws it from its config). */
  get logic(): TMachine {
    return this.#compiled.machine as TMachine;
  }

  /** None: it is a root actor. An inspector reads XState's `_parent` to place an actor in its system. */
  get _parent(): undefined {
    return undefined;
  }

  /** Starts processing: the initial effects go out, observers see the first snapshot. */
  start(): this {
    if (this.#started) return this;
    this.#started = true;
    if (this.#status === 'error') {
      this.#reportError(this.#error);
      return this;
    }
    const calls = this.#initialCalls ?? [];
    const effects = this.#initialEffects ?? [];
    const initEvent = this.#initEvent ?? { type: 'xstate.init' };
    this.#initialCalls = null;
    this.#initialEffects = null;
    this.#initEvent = null;
    try {
      for (const call of calls) call();
    } catch (err) {
      this.#status = 'error';
      this.#error = err;
      this.#reportError(err);
      return this;
    }
    this.#inspectEvent(initEvent);
    this.#commit(initEvent, effects);
    this.#drain();
    return this;
  }

  send(event: EventFromLogic<TMachine>): void {
    if (this.#status !== 'active') return;
    if (!this.#started || this.#processing) {
      this.#mailbox ??= [];
      this.#mailbox.push(event);
      return;
    }
    this.#processing = true;
    try {
      this.#process(event);
    } finally {
      this.#processing = false;
    }
    this.#drain();
  }

  getSnapshot(): MachineSnapshot<ContextFrom<TMachine>> {
    this.#snapshot ??= {
      status: this.#status,
      value: this.#compiled.states[this.#state]?.value ?? '',
      context: this.#context,
      output: undefined,
      error: this.#error,
    };
    return this.#snapshot;
  }

  /** Observers see every snapshot after an event, `complete` at a final state, `error` on a fault. */
  subscribe(
    observer:
      | Observer<MachineSnapshot<ContextFrom<TMachine>>>
      | ((snapshot: MachineSnapshot<ContextFrom<TMachine>>) => void),
  ): Subscription {
    const full = toObserver(observer);
    if (this.#status === 'active') {
      this.#observers = appended(this.#observers, full);
    } else if (this.#status === 'error') {
      if (full.error) full.error(this.#error);
      else reportUnhandledError(this.#error);
    } else {
      full.complete?.();
    }
    return new MachineActor.#Entry(this, 'observers', full);
  }

  /** Listens to the effects the machine emits: one `type`, or `'*'` for all of them. */
  on<TType extends EmittedFrom<TMachine>['type'] | '*'>(
    type: TType,
    handler: (
      effect: TType extends '*'
        ? EmittedFrom<TMachine>
        : Extract<EmittedFrom<TMachine>, { type: TType }>,
    ) => void,
  ): Subscription {
    const listener: Listener = { type, handler: handler as Listener['handler'] };
    this.#listeners = appended(this.#listeners, listener);
    return new MachineActor.#Entry(this, 'listeners', listener);
  }

  /**
   * Sends this actor's events, microsteps and snapshots to `observer` from now
   * on, as XState's `system.inspect` does for an interpreted actor; nothing
   * is built for inspection while no inspector is attached.
   */
  inspect(
    observer:
      | Observer<MachineInspectionEvent<ContextFrom<TMachine>>>
      | ((event: MachineInspectionEvent<ContextFrom<TMachine>>) => void),
  ): Subscription {
    const full = toObserver(observer);
    this.#inspectors = appended(this.#inspectors, full);
    return new MachineActor.#Entry(this, 'inspectors', full);
  }

  /**
   * What `subscribe`, `on` and `inspect` return: it takes one entry out of
   * one of the actor's lists. An object rather than a closure, because every
   * connection subscribes and a closure costs more memory (docs/PERFORMANCE.md §11).
   */
  static readonly #Entry = class implements Subscription {
    constructor(
      readonly actor: MachineActor<AnyStateMachine>,
      readonly list: 'observers' | 'listeners' | 'inspectors',
      readonly entry: unknown,
    ) {}

    unsubscribe(): void {
      this.actor.#remove(this.list, this.entry);
    }
  };

  #remove(list: 'observers' | 'listeners' | 'inspectors', entry: unknown): void {
    switch (list) {
      case 'observers':
        this.#observers = this.#observers?.filter((known) => known !== entry) ?? null;
        break;
      case 'listeners':
        this.#listeners = this.#listeners?.filter((known) => known !== entry) ?? null;
        break;
      case 'inspectors': {
        const left = this.#inspectors?.filter((known) => known !== entry) ?? [];
        this.#inspectors = left.length > 0 ? left : null;
        break;
      }
    }
  }

  /** Stops the actor where it stands: nothing more is processed; observers complete. */
  stop(): this {
    if (this.#status !== 'active') return this;
    this.#status = 'stopped';
    this.#snapshot = null;
    this.#mailbox = null;
    this.#complete();
    return this;
  }

  #drain(): void {
    while (this.#mailbox !== null && this.#mailbox.length > 0 && this.#status === 'active') {
      const next = this.#mailbox.shift() as EventObject;
      this.#processing = true;
      try {
        this.#process(next);
      } finally {
        this.#processing = false;
      }
    }
  }

  /** One event, XState's macrostep: its transition, then eventless transitions, then the effects. */
  #process(event: EventObject): void {
    this.#inspectEvent(event);
    const effects: EventObject[] = [];
    const stateBefore = this.#state;
    const contextBefore = this.#context;
    try {
      const transition = this.#select(this.#compiled.candidates(this.#state, event.type), event);
      if (transition) this.#microstep(transition, event, effects, null);
      this.#settle(event, effects, null);
    } catch (err) {
      // As XState: the actor fails where it stood before the event, with nothing of it done.
      this.#state = stateBefore;
      this.#context = contextBefore;
      this.#status = 'error';
      this.#error = err;
      this.#snapshot = null;
      this.#mailbox = null;
      this.#reportError(err);
      return;
    }
    this.#commit(event, effects);
  }

  /** Eventless transitions, while one is enabled and the last one changed something. */
  #settle(event: EventObject, effects: EventObject[], deferredCalls: (() => void)[] | null): void {
    while (this.#status === 'active') {
      const transition = this.#select(this.#compiled.eventless(this.#state), event);
      if (!transition) return;
      const state = this.#state;
      const context = this.#context;
      this.#microstep(transition, event, effects, deferredCalls);
      if (this.#state === state && this.#context === context) return;
    }
  }

  #select(
    transitions: readonly CompiledTransition[],
    event: EventObject,
  ): CompiledTransition | undefined {
    if (transitions.length === 0) return undefined;
    // One argument object for every guard of this choice: they all see the same context and event.
    const args = { context: this.#context, event };
    for (const transition of transitions) {
      const { guard } = transition;
      if (guard === null) return transition;
      const params =
        guard.params.kind === 'none'
          ? undefined
          : guard.params.kind === 'value'
            ? guard.params.value
            : guard.params.resolve(args);
      if (guard.check(args, params)) return transition;
    }
    return undefined;
  }

  #microstep(
    transition: CompiledTransition,
    event: EventObject,
    effects: EventObject[],
    deferredCalls: (() => void)[] | null,
  ): void {
    this.#runActions(transition.actions, event, effects, deferredCalls);
    this.#state = transition.to;
    if (transition.done) this.#status = 'done';
    if (this.#inspectors !== null)
      this.#inspectState('@xstate.microstep', event, this.#snapshotNow());
  }

  /**
   * Runs actions in order, each seeing the context the ones before it left.
   * Plain actions run now, or, before `start()`, into `deferredCalls`.
   */
  #runActions(
    actions: readonly CompiledAction[],
    event: EventObject,
    effects: EventObject[],
    deferredCalls: (() => void)[] | null,
  ): void {
    for (const action of actions) {
      const context = this.#context;
      const params =
        action.params.kind === 'none'
          ? undefined
          : action.params.kind === 'value'
            ? action.params.value
            : action.params.resolve({ context, event });
      const args = { context, event, self: this };
      switch (action.kind) {
        case 'update':
          // As XState's assign: a new context, the old one's fields and the changed ones.
          this.#context = Object.assign(
            {},
            context,
            action.run(args, params),
          ) as ContextFrom<TMachine>;
          break;
        case 'effect':
          effects.push(action.run(args, params) as EventObject);
          break;
        case 'call':
          if (deferredCalls === null) action.run(args, params);
          else deferredCalls.push(() => action.run(args, params));
          break;
      }
    }
  }

  /** The event is processed: effects go out, then observers see the snapshot. */
  #commit(event: EventObject, effects: readonly EventObject[]): void {
    this.#snapshot = null;
    if (effects.length > 0 && this.#listeners !== null) {
      for (const effect of effects) {
        for (const listener of this.#listeners) {
          if (listener.type !== effect.type && listener.type !== '*') continue;
          try {
            listener.handler(effect);
          } catch (err) {
            reportUnhandledError(err);
          }
        }
      }
    }
    if (this.#observers !== null) {
      const snapshot = this.getSnapshot();
      for (const observer of this.#observers) {
        try {
          observer.next?.(snapshot);
        } catch (err) {
          reportUnhandledError(err);
        }
      }
    }
    if (this.#inspectors !== null)
      this.#inspectState('@xstate.snapshot', event, this.getSnapshot());
    if (this.#status === 'done') {
      this.#mailbox = null;
      this.#complete();
    }
  }

  #snapshotNow(): MachineSnapshot<ContextFrom<TMachine>> {
    return {
      status: this.#status,
      value: this.#compiled.states[this.#state]?.value ?? '',
      context: this.#context,
      output: undefined,
      error: this.#error,
    };
  }

  /** `@xstate.event`: the actor takes `event` (XState's inspectors see `xstate.init` first). */
  #inspectEvent(event: EventObject): void {
    if (this.#inspectors !== null) {
      this.#inspect({
        type: '@xstate.event',
        actorRef: this as MachineActor<AnyStateMachine>,
        rootId: this.id,
        sourceRef: undefined,
        event,
      });
    }
  }

  /** `@xstate.microstep` (a state reached within an event) or `@xstate.snapshot` (where the event left it). */
  #inspectState(
    type: '@xstate.microstep' | '@xstate.snapshot',
    event: EventObject,
    snapshot: MachineSnapshot<ContextFrom<TMachine>>,
  ): void {
    this.#inspect({
      type,
      actorRef: this as MachineActor<AnyStateMachine>,
      rootId: this.id,
      event,
      snapshot,
    });
  }

  /**
   * Hands `event` to the inspectors. Callers build it only when
   * `#inspectors` is set, so an unwatched actor allocates nothing for them.
   */
  #inspect(event: MachineInspectionEvent<ContextFrom<TMachine>>): void {
    for (const inspector of this.#inspectors ?? []) {
      try {
        inspector.next?.(event);
      } catch (err) {
        reportUnhandledError(err);
      }
    }
  }

  #complete(): void {
    const observers = this.#observers ?? [];
    this.#observers = null;
    this.#listeners = null;
    for (const observer of observers) {
      try {
        observer.complete?.();
      } catch (err) {
        reportUnhandledError(err);
      }
    }
  }

  #reportError(err: unknown): void {
    const observers = this.#observers ?? [];
    this.#observers = null;
    this.#listeners = null;
    if (observers.length === 0 || observers.some((observer) => !observer.error)) {
      reportUnhandledError(err);
    }
    for (const observer of observers) {
      try {
        observer.error?.(err);
      } catch (err2) {
        reportUnhandledError(err2);
      }
    }
  }
}
