/**
 * Compiles an XState machine into a table that lib/statechart/runtime.ts runs
 * at the cost of a few property reads and function calls per event, where
 * XState's interpreter spends microseconds (docs/PERFORMANCE.md §11).
 *
 * The table is derived from the machine's own definition, never kept by
 * hand: XState's `StateNode`s give the states, their transitions in
 * XState's order, guards, targets, entry and exit actions; the algorithm
 * below is XState's own (v5 `microstep`, `getTransitionDomain`,
 * `computeExitSet`, `computeEntrySet`, `selectEventlessTransitions`),
 * specialised to what a flat-per-phase connection machine uses and run once
 * per (state, event type) instead of once per event. Actions are the machine's
 * own implementations: `update()` and `effect()` (lib/statechart/actions.ts)
 * remember the function behind each `assign` and `emit`, and plain action and
 * guard functions are called as XState calls them.
 *
 * What the table cannot run exactly is refused at compile time, by name:
 * parallel states, history, delayed (`after`) transitions, `invoke`, final
 * states below the top level, `output`, guard combinators, and XState's other
 * built-in actions (`raise`, `sendTo`, ...). spec/lib/statechart drives the
 * interpreter and the table with the same random event sequences and checks
 * that they agree after every event.
 */
import type { AnyStateMachine, EventObject, MachineContext, StateNode, StateValue } from 'xstate';
import { MeteoError } from '../errors.js';
import { type ActionRunArgs, sourceOf } from './actions.js';

type AnyStateNode = StateNode<MachineContext, EventObject>;
type TransitionDefinition =
  AnyStateNode['transitions'] extends Map<string, (infer T)[]> ? T : never;

/** How an action or guard is given its parameters: none, a value, or a function of the moment. */
type Params =
  | { readonly kind: 'none' }
  | { readonly kind: 'value'; readonly value: unknown }
  | {
      readonly kind: 'function';
      readonly resolve: (args: { context: MachineContext; event: EventObject }) => unknown;
    };

export interface CompiledAction {
  readonly name: string;
  /** `update` merges what `run` returns into the context; `effect` emits it; `call` only calls it. */
  readonly kind: 'update' | 'effect' | 'call';
  readonly run: (args: ActionRunArgs, params: unknown) => unknown;
  readonly params: Params;
}

export interface CompiledGuard {
  readonly name: string;
  readonly check: (
    args: { context: MachineContext; event: EventObject },
    params: unknown,
  ) => boolean;
  readonly params: Params;
}

/** One transition as taken from one atomic state: everything a microstep does, in order. */
export interface CompiledTransition {
  readonly guard: CompiledGuard | null;
  /** Exit actions, the transition's own, then entry actions (and exits of all at a final state). */
  readonly actions: readonly CompiledAction[];
  /** The atomic state after it (the same one for a targetless transition). */
  readonly to: number;
  /** It enters a top-level final state: the machine is done. */
  readonly done: boolean;
  /** Where it is defined and what triggers it, for messages. */
  readonly from: string;
}

export interface CompiledState {
  readonly index: number;
  readonly id: string;
  /** The state value of the configuration this atomic state makes, as XState writes it. */
  readonly value: StateValue;
  readonly final: boolean;
}

export interface CompiledMachine {
  readonly machine: AnyStateMachine;
  /** The atomic states; a running machine is always in exactly one. */
  readonly states: readonly CompiledState[];
  /** Entering the initial configuration: the atomic state and the entry actions, in order. */
  readonly initial: { readonly to: number; readonly actions: readonly CompiledAction[] };
  /** The transitions an event of this type may take from this state, in XState's order; first enabled wins. */
  candidates(state: number, eventType: string): readonly CompiledTransition[];
  /** The eventless (`always`) transitions of this state and its ancestors, in XState's order. */
  eventless(state: number): readonly CompiledTransition[];
  /** The context a new actor starts with. */
  createContext(input: unknown, self: unknown): MachineContext;
}

function refuse(what: string): never {
  throw new MeteoError(
    'ERR_UNSUPPORTED_MACHINE',
    `the fast path cannot run this machine: ${what}; run it on XState's interpreter, or change the machine`,
  );
}

function childrenOf(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states) as AnyStateNode[];
}

function allNodes(root: AnyStateNode): AnyStateNode[] {
  const nodes: AnyStateNode[] = [];
  const walk = (node: AnyStateNode): void => {
    nodes.push(node);
    for (const child of childrenOf(node)) walk(child);
  };
  walk(root);
  return nodes;
}

/** `node` and its ancestors, innermost first. */
function lineage(node: AnyStateNode): AnyStateNode[] {
  const nodes: AnyStateNode[] = [];
  for (let at: AnyStateNode | undefined = node; at; at = at.parent) nodes.push(at);
  return nodes;
}

/**
 * XState's `isDescendant`: strictly below `ancestor`. As in XState, every
 * node, the root included, counts as below `undefined` (the domain of a
 * re-entering transition of the root).
 */
function isDescendant(node: AnyStateNode, ancestor: AnyStateNode | undefined): boolean {
  let marker = node;
  while (marker.parent && marker.parent !== ancestor) marker = marker.parent;
  return marker.parent === ancestor;
}

/** XState's `getProperAncestors`: the ancestors of `node` strictly below `to` (all of them when `to` is undefined). */
function properAncestors(node: AnyStateNode, to: AnyStateNode | undefined): AnyStateNode[] {
  const ancestors: AnyStateNode[] = [];
  if (node === to) return ancestors;
  for (let at = node.parent; at && at !== to; at = at.parent) ancestors.push(at);
  return ancestors;
}

/** The atomic state a compound state settles in when entered by default. */
function initialLeaf(node: AnyStateNode): AnyStateNode {
  let at = node;
  while (at.type === 'compound') {
    const [first] = at.initial.target;
    if (first === undefined) refuse(`state ${at.id} has no initial state`);
    at = first as AnyStateNode;
  }
  return at;
}

/** The state value of the configuration whose atomic state is `leaf`, as XState builds it. */
function stateValueOf(leaf: AnyStateNode): StateValue {
  const path = lineage(leaf).reverse().slice(1);
  let value: StateValue = (path.pop() as AnyStateNode).key;
  while (path.length > 0) value = { [(path.pop() as AnyStateNode).key]: value };
  return value;
}

/** XState's `matchesEventDescriptor`: exact, `*`, or a `prefix.*` wildcard. */
function matches(eventType: string, descriptor: string): boolean {
  if (descriptor === eventType || descriptor === '*') return true;
  if (!descriptor.endsWith('.*')) return false;
  const prefix = descriptor.split('.');
  const tokens = eventType.split('.');
  for (let i = 0; i < prefix.length; i++) {
    if (prefix[i] === '*') return i === prefix.length - 1;
    if (prefix[i] !== tokens[i]) return false;
  }
  return true;
}

/** XState's `getCandidates`: the exact descriptor's transitions, then the wildcards', longest first. */
function candidatesOf(node: AnyStateNode, eventType: string): TransitionDefinition[] {
  const exact = node.transitions.get(eventType) ?? [];
  const wildcards = [...node.transitions.keys()]
    .filter((descriptor) => descriptor !== eventType && matches(eventType, descriptor))
    .sort((a, b) => b.length - a.length)
    .flatMap((descriptor) => node.transitions.get(descriptor) ?? []);
  return [...exact, ...wildcards];
}

function paramsOf(reference: unknown): Params {
  if (typeof reference !== 'object' || reference === null || !('params' in reference)) {
    return { kind: 'none' };
  }
  const params = (reference as { params: unknown }).params;
  return typeof params === 'function'
    ? { kind: 'function', resolve: params as Extract<Params, { kind: 'function' }>['resolve'] }
    : { kind: 'value', value: params };
}

function nameOf(reference: unknown): string {
  if (typeof reference === 'string') return reference;
  if (typeof reference === 'function') return reference.name || '(anonymous)';
  return String((reference as { type?: unknown }).type);
}

/** Checks a machine's statechart for features the table does not run. */
function checkSupported(machine: AnyStateMachine, nodes: readonly AnyStateNode[]): void {
  if (machine.root.output !== undefined || machine.config.output !== undefined) {
    refuse('the machine has an output');
  }
  for (const node of nodes) {
    if (node.type === 'parallel') refuse(`state ${node.id} is a parallel state`);
    if (node.type === 'history') refuse(`state ${node.id} is a history state`);
    if (node.invoke.length > 0) refuse(`state ${node.id} invokes an actor`);
    if (node.config.after !== undefined) refuse(`state ${node.id} has delayed (after) transitions`);
    if (node.config.onDone !== undefined) refuse(`state ${node.id} has an onDone transition`);
    if (node.type === 'final' && node.parent !== machine.root) {
      refuse(`final state ${node.id} is not at the top level`);
    }
    if (node.type === 'final' && node.output !== undefined)
      refuse(`final state ${node.id} has an output`);
    for (const transitions of [...node.transitions.values(), node.always ?? []]) {
      for (const transition of transitions) {
        if ((transition.target?.length ?? 0) > 1) {
          refuse(`a transition of state ${node.id} has several targets`);
        }
      }
    }
  }
}

/**
 * Compiles `machine`, or throws ERR_UNSUPPORTED_MACHINE naming the first
 * feature it cannot run exactly as XState runs it.
 */
export function compileMachine(machine: AnyStateMachine): CompiledMachine {
  const root = machine.root as unknown as AnyStateNode;
  const nodes = allNodes(root);
  checkSupported(machine, nodes);

  const actionsCache = new Map<unknown, CompiledAction>();
  const compileAction = (reference: unknown, where: string): CompiledAction => {
    const cached = actionsCache.get(reference);
    if (cached) return cached;
    const name = nameOf(reference);
    const implementation =
      typeof reference === 'function'
        ? reference
        : (machine.implementations.actions as Record<string, unknown>)[name];
    if (implementation === undefined) refuse(`action ${name} (in ${where}) is not implemented`);
    const source = sourceOf(implementation);
    let compiled: CompiledAction;
    if (source) {
      compiled = { name, kind: source.kind, run: source.run, params: paramsOf(reference) };
    } else if (typeof implementation === 'function' && !('resolve' in implementation)) {
      compiled = {
        name,
        kind: 'call',
        run: implementation as CompiledAction['run'],
        params: paramsOf(reference),
      };
    } else {
      refuse(
        `action ${name} (in ${where}) is an XState built-in other than one made by update() or effect()`,
      );
    }
    actionsCache.set(reference, compiled);
    return compiled;
  };

  const compileGuard = (reference: unknown, where: string): CompiledGuard | null => {
    if (reference === undefined) return null;
    const name = nameOf(reference);
    const implementation =
      typeof reference === 'function'
        ? reference
        : (machine.implementations.guards as Record<string, unknown>)[name];
    // XState's combinators (and, or, not, stateIn) are evaluated by its interpreter through
    // their `check` method, which needs the interpreter's snapshot.
    if (typeof implementation !== 'function' || 'check' in implementation) {
      refuse(`guard ${name} (in ${where}) is not a plain predicate`);
    }
    return {
      name,
      check: implementation as CompiledGuard['check'],
      params: paramsOf(reference),
    };
  };

  const actionsOf = (references: readonly unknown[], where: string): CompiledAction[] =>
    references.map((reference) => compileAction(reference, where));

  const leaves = nodes.filter((node) => node.type === 'atomic' || node.type === 'final');
  const leafIndex = new Map(leaves.map((node, index) => [node, index]));
  const states: CompiledState[] = leaves.map((node, index) => ({
    index,
    id: node.id,
    value: stateValueOf(node),
    final: node.type === 'final',
  }));
  const indexOf = (leaf: AnyStateNode): number => {
    const index = leafIndex.get(leaf);
    if (index === undefined) refuse(`state ${leaf.id} is not atomic`);
    return index;
  };

  /** Entry of `targets` from `domain`, as XState's `computeEntrySet` orders and marks it. */
  const entrySet = (
    transition: TransitionDefinition,
    domain: AnyStateNode | undefined,
  ): { enter: AnyStateNode[]; defaultEntry: Set<AnyStateNode> } => {
    const enter = new Set<AnyStateNode>();
    const defaultEntry = new Set<AnyStateNode>();
    const source = transition.source as AnyStateNode;
    for (const target of (transition.target ?? []) as AnyStateNode[]) {
      if (target !== source || source !== domain || transition.reenter) {
        enter.add(target);
        defaultEntry.add(target);
      }
      // Descendants entered by default: the initial chain.
      for (let at = target; at.type === 'compound'; ) {
        const [initial] = at.initial.target as AnyStateNode[];
        if (initial === undefined) break;
        enter.add(initial);
        defaultEntry.add(initial);
        at = initial;
      }
      const reentrancyDomain = !source.parent && transition.reenter ? undefined : domain;
      for (const ancestor of properAncestors(target, domain)) {
        if (!reentrancyDomain || isDescendant(ancestor, reentrancyDomain)) enter.add(ancestor);
      }
    }
    return { enter: [...enter].sort((a, b) => a.order - b.order), defaultEntry };
  };

  /** XState's `getTransitionDomain`, without history. */
  const domainOf = (transition: TransitionDefinition): AnyStateNode | undefined => {
    const source = transition.source as AnyStateNode;
    const targets = (transition.target ?? []) as AnyStateNode[];
    if (
      !transition.reenter &&
      targets.every((target) => target === source || isDescendant(target, source))
    ) {
      return source;
    }
    const all = [...targets, source];
    const [head, ...tail] = all as [AnyStateNode, ...AnyStateNode[]];
    for (const ancestor of properAncestors(head, undefined)) {
      if (tail.every((node) => isDescendant(node, ancestor))) return ancestor;
    }
    return transition.reenter ? undefined : root;
  };

  const entryActions = (
    enter: readonly AnyStateNode[],
    defaultEntry: ReadonlySet<AnyStateNode>,
    where: string,
  ): CompiledAction[] =>
    enter.flatMap((node) => [
      ...actionsOf(node.entry, `the entry of ${node.id}`),
      ...(defaultEntry.has(node) ? actionsOf(node.initial.actions, where) : []),
    ]);

  /** Everything one microstep does when `transition` is taken from atomic state `leaf`. */
  const compileTransition = (
    leaf: AnyStateNode,
    transition: TransitionDefinition,
  ): CompiledTransition => {
    const source = transition.source as AnyStateNode;
    const from = `${source.id} on ${transition.eventType || 'always'}`;
    const guard = compileGuard(transition.guard, from);
    const own = actionsOf(transition.actions, from);
    if (!transition.target?.length) {
      return { guard, actions: own, to: indexOf(leaf), done: false, from };
    }
    const domain = domainOf(transition);
    const active = lineage(leaf);
    const exit = active
      .filter(
        (node) =>
          isDescendant(node, domain) ||
          (transition.reenter && source === domain && node === domain),
      )
      .sort((a, b) => b.order - a.order);
    const { enter, defaultEntry } = entrySet(transition, domain);
    const after = new Set([...active.filter((node) => !exit.includes(node)), ...enter]);
    const atoms = [...after].filter((node) => node.type === 'atomic' || node.type === 'final');
    if (atoms.length !== 1) refuse(`${from} does not end in exactly one atomic state`);
    const to = atoms[0] as AnyStateNode;
    const done = to.type === 'final';
    const actions = [
      ...exit.flatMap((node) => actionsOf(node.exit, `the exit of ${node.id}`)),
      ...own,
      ...entryActions(enter, defaultEntry, from),
      // At a top-level final state XState runs the exit actions of the whole configuration.
      ...(done
        ? [...after]
            .sort((a, b) => b.order - a.order)
            .flatMap((node) => actionsOf(node.exit, `the exit of ${node.id}`))
        : []),
    ];
    return { guard, actions, to: indexOf(to), done, from };
  };

  const byEvent = leaves.map(() => new Map<string, CompiledTransition[]>());
  const eventless = leaves.map((leaf) =>
    lineage(leaf).flatMap((node) =>
      (node.always ?? []).map((transition) => compileTransition(leaf, transition)),
    ),
  );
  // Compile every descriptor the machine names now, so a bad one fails at start-up, not mid-request.
  const descriptors = new Set(nodes.flatMap((node) => [...node.transitions.keys()]));
  const candidates = (state: number, eventType: string): readonly CompiledTransition[] => {
    const memo = byEvent[state] as Map<string, CompiledTransition[]>;
    let list = memo.get(eventType);
    if (list === undefined) {
      const leaf = leaves[state] as AnyStateNode;
      list = lineage(leaf).flatMap((node) =>
        candidatesOf(node, eventType).map((transition) => compileTransition(leaf, transition)),
      );
      memo.set(eventType, list);
    }
    return list;
  };
  for (let state = 0; state < leaves.length; state++) {
    for (const descriptor of descriptors) candidates(state, descriptor);
  }

  const initialLeafNode = initialLeaf(root);
  const initialEnter = [...lineage(initialLeafNode)].sort((a, b) => a.order - b.order);
  const initial = {
    to: indexOf(initialLeafNode),
    actions: entryActions(initialEnter, new Set(initialEnter), `the initial state of ${root.id}`),
  };

  const contextConfig = machine.config.context as unknown;
  return {
    machine,
    states,
    initial,
    candidates,
    eventless: (state) => eventless[state] as CompiledTransition[],
    createContext: (input, self) =>
      typeof contextConfig === 'function'
        ? // XState assigns what the factory returns: a copy, as here.
          {
            ...(contextConfig as (args: unknown) => MachineContext)({
              input,
              self,
              spawn: undefined,
            }),
          }
        : ((contextConfig as MachineContext | undefined) ?? {}),
  };
}
