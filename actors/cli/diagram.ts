/**
 * Mermaid state diagrams drawn from XState machines themselves (issue 6,
 * "Statecharts drawn from the code"): the generator walks `machine.root` and
 * its state nodes, as XState resolved them (targets, delays, guards), so a
 * picture can never say what the machine does not.
 *
 * Pure: a machine in, text out, in the machine's own document order, so the
 * same machine always gives the same bytes and docs/machines.md can be
 * checked for drift by regenerating it (spec/actors/cli/diagram.spec.ts).
 *
 * How each construct is drawn (the legend in {@link diagramsDocument} says the
 * same to the reader):
 * - A state with children is a composite state; `[*] -->` marks its initial
 *   child, `--> [*]` its final children; parallel regions are split by `--`.
 * - An arrow is labelled `EVENT [guard] / action, action`. Eventless
 *   transitions read `always`, delayed ones `after <delay name>` (or
 *   `after <n> ms`), the last unguarded one of a guarded list `[else]`.
 * - What happens without leaving a state (entry and exit actions, invoked
 *   actors, transitions with no target) is written inside its box.
 * - A composite state's transition to a state outside it leaves its edge. Its
 *   transitions into its own states, and what it does without leaving, are
 *   in an "any state in <name>" box inside it; the machine's own (the root's,
 *   which apply in every state) are in an "any state" box.
 */
import { type AnyStateMachine, type AnyStateNode, and, not, or, stateIn } from 'xstate';

/** One machine's section of docs/machines.md. */
export interface MachineSection {
  /** The heading: the machine's name. */
  readonly title: string;
  /** Where the machine is defined, relative to the repository root. */
  readonly source: string;
  /** One paragraph on what the machine is for. */
  readonly description: string;
  readonly machine: AnyStateMachine;
}

/** A transition as XState resolved it; the fields the diagram needs. */
interface Transition {
  readonly target: readonly AnyStateNode[] | undefined;
  readonly actions: readonly unknown[];
  readonly guard?: unknown;
  readonly eventType: string;
}

// Higher-order guards are functions that XState tells apart by their `check`;
// comparing with the check of a guard built here names them without relying
// on function names, which a minifier may change.
const NOT_CHECK = checkOf(not('_'));
const AND_CHECK = checkOf(and(['_']));
const OR_CHECK = checkOf(or(['_']));
const STATE_IN_CHECK = checkOf(stateIn('_'));

/**
 * Words of Mermaid's state-diagram lexer that cannot be state ids (its rules
 * are case-insensitive).
 */
const RESERVED_IDS = new Set([
  'as',
  'class',
  'classdef',
  'click',
  'default',
  'direction',
  'end',
  'hide',
  'href',
  'left',
  'note',
  'of',
  'right',
  'scale',
  'state',
  'statediagram',
  'style',
]);

/** Names that XState gives an inline function from its place in the config, not from its author. */
const PLACE_NAMES = new Set(['', 'actions', 'entry', 'exit', 'guard', 'anonymous']);

const INDENT = '  ';

/**
 * A Mermaid `stateDiagram-v2` of a machine: every state, initial and final
 * state, transition (event, guard, actions, delay), entry and exit action and
 * invoked actor. The same machine gives the same text, byte for byte.
 */
export function machineDiagram(machine: AnyStateMachine): string {
  const root: AnyStateNode = machine.root;
  const nodes = descendants(root);
  const ids = stateIds(nodes);
  const id = (node: AnyStateNode): string => ids.get(node) as string;

  // A composite's transition into one of its own states is drawn from an
  // "any state" box inside it: an arrow from a composite to its own child
  // is one Mermaid's layouts draw as a stub (dagre) or refuse (ELK). The
  // machine itself is not drawn as a box, so all of its transitions start
  // from its "any state" box.
  const anyBoxes = new Map<AnyStateNode, string>();
  const anyBox = (node: AnyStateNode): string => {
    let box = anyBoxes.get(node);
    if (box === undefined) {
      box = freshId(
        node === root ? 'any_state' : `${id(node).replace(/_+$/, '')}_any`,
        ids,
        anyBoxes,
      );
      anyBoxes.set(node, box);
    }
    return box;
  };

  // Transitions are all written after the states, at the top level. Mermaid
  // puts a state in the last composite that mentions it, and a mention at
  // the top level moves nothing: so each state stays where it is declared,
  // whichever composites its transitions cross.
  const edges: string[] = [];
  const inside = new Map<AnyStateNode, string[]>();
  for (const node of nodes) {
    const lines: string[] = [];
    for (const { transition, trigger, guard } of transitionsOf(node)) {
      const actions = transition.actions.flatMap(actionName);
      if (transition.target === undefined || transition.target.length === 0) {
        lines.push(label(trigger, guard, actions.length > 0 ? actions : ['(ignored)']));
        continue;
      }
      for (const target of transition.target) {
        if (target === root) {
          // The machine has no box to point at: say it in words.
          lines.push(`${label(trigger, guard, actions)} → restart`);
          continue;
        }
        const from = node === root || isAbove(node, target) ? anyBox(node) : id(node);
        edges.push(`${from} --> ${id(target)} : ${label(trigger, guard, actions)}`);
      }
    }
    inside.set(node, [...stateActivities(node), ...lines]);
  }
  // What a composite state does without leaving it goes in its "any state"
  // box too: inside the composite, where Mermaid's notes are placed outside
  // it, and the root has no box to attach a note to.
  for (const node of nodes) {
    if (Object.keys(node.states).length > 0 && (inside.get(node) ?? []).length > 0) anyBox(node);
  }

  const out = ['stateDiagram-v2'];
  const write = (depth: number, line: string): void => {
    out.push(INDENT.repeat(depth) + line);
  };

  const writeState = (node: AnyStateNode, depth: number): void => {
    const declaration = `state "${text(stateLabel(node))}" as ${id(node)}`;
    const activities = inside.get(node) ?? [];
    if (Object.keys(node.states).length === 0) {
      write(depth, declaration);
      for (const line of activities) write(depth, `${id(node)} : ${line}`);
      return;
    }
    write(depth, `${declaration} {`);
    writeScope(node, depth + 1);
    write(depth, '}');
    // Mermaid's concurrent sections would swallow a box written inside.
    if (node.type === 'parallel') writeAnyBox(node, depth);
  };

  const writeAnyBox = (node: AnyStateNode, depth: number): void => {
    const box = anyBoxes.get(node);
    if (box === undefined) return;
    const name = node === root ? 'any state' : `any state in ${node.key}`;
    write(depth, `state "${text(name)}" as ${box}`);
    for (const line of inside.get(node) ?? []) write(depth, `${box} : ${line}`);
  };

  const writeScope = (node: AnyStateNode, depth: number): void => {
    const children = Object.values(node.states) as AnyStateNode[];
    children.forEach((child, i) => {
      // Regions of a parallel state are Mermaid's concurrent sections.
      if (node.type === 'parallel' && i > 0) write(depth, '--');
      writeState(child, depth);
    });
    if (node.type !== 'parallel') writeAnyBox(node, depth);
    if (node.type === 'compound') {
      const initial = node.initial;
      const actions = initial.actions.flatMap(actionName);
      for (const target of initial.target) {
        write(
          depth,
          `[*] --> ${id(target)}${actions.length > 0 ? ` : / ${text(actions.join(', '))}` : ''}`,
        );
      }
    }
    for (const child of children) {
      if (child.type === 'final') write(depth, `${id(child)} --> [*]`);
    }
  };

  // Mermaid takes concurrent sections only inside a composite state, so a
  // parallel machine is drawn as one, named by its id.
  if (root.type === 'parallel') writeState(root, 1);
  else writeScope(root, 1);
  for (const edge of edges) write(1, edge);
  return `${out.join('\n')}\n`;
}

/**
 * The Mermaid id {@link machineDiagram} gives each state of `machine`, by the
 * state's path (`serving.computing`; `''` for the machine itself), so that a
 * drawing of the diagram can light the state a running actor is in (the live
 * view, issue #13).
 */
export function diagramStateIds(machine: AnyStateMachine): ReadonlyMap<string, string> {
  const nodes = descendants(machine.root);
  const ids = stateIds(nodes);
  return new Map(nodes.map((node) => [node.path.join('.'), ids.get(node) as string]));
}

/**
 * docs/machines.md: a legend, then for each machine a heading, its
 * description and its diagram in a ```mermaid block.
 */
export function diagramsDocument(sections: readonly MachineSection[]): string {
  const parts = [
    '# State machines',
    '',
    '<!-- Generated by `npm run diagrams` (actors/cli/diagrams.ts, actors/cli/diagram.ts) from the machine',
    '     definitions; do not edit by hand. spec/actors/cli/diagram.spec.ts fails when this file is stale. -->',
    '',
    'Every actor in meteo-actors runs one of these XState machines. The diagrams are drawn from',
    'the machine definitions themselves, so they show what the code does, and they are redrawn',
    'with `npm run diagrams` whenever a machine changes.',
    '',
    'How to read them:',
    '',
    '- `[*] -->` points at the state a machine or composite state starts in; `--> [*]` leaves a',
    '  final state.',
    '- An arrow is labelled `EVENT [guard] / actions`. `always` is a transition taken as soon as',
    '  its guard holds, with no event; `after <delay>` is taken when the named delay (or a number',
    '  of milliseconds) has passed in the state. Guards of the same event are tried in order,',
    '  and `[else]` is the one taken when none of those before it holds.',
    '- Lines inside a state are what it does without leaving it: `entry /` and `exit /` actions,',
    '  `invokes <actor>` (a child actor that lives as long as the state), and transitions with no',
    '  target. `(ignored)` marks an event the state takes and does nothing with.',
    '- The **any state** box stands for every state of the machine: its lines are what the machine',
    '  does whatever state it is in, and its arrows are transitions it takes from any state. An',
    '  **any state in X** box does the same for the states inside the composite state X; an',
    '  arrow from the edge of X leaves X from any state inside it.',
  ];
  for (const section of sections) {
    parts.push(
      '',
      `## ${section.title}`,
      '',
      `Defined in [\`${section.source}\`](../${section.source}).`,
      '',
      section.description,
      '',
      '```mermaid',
      machineDiagram(section.machine).trimEnd(),
      '```',
    );
  }
  return `${parts.join('\n')}\n`;
}

/** The node and all its descendants, in document order. */
function descendants(node: AnyStateNode): AnyStateNode[] {
  return [node, ...(Object.values(node.states) as AnyStateNode[]).flatMap(descendants)];
}

/**
 * A Mermaid id for every node: its key where that is unique, its path where
 * not, made of the characters Mermaid takes in an id. The readable name is
 * the state's label, so `awaiting-request` becomes `awaiting_request`.
 */
function stateIds(nodes: readonly AnyStateNode[]): Map<AnyStateNode, string> {
  const root = nodes[0] as AnyStateNode;
  const keyCount = new Map<string, number>();
  for (const node of nodes) {
    const key = idOf(node.key);
    keyCount.set(key, (keyCount.get(key) ?? 0) + 1);
  }
  const ids = new Map<AnyStateNode, string>();
  const taken = new Set<string>();
  for (const node of nodes) {
    const key = idOf(node.key);
    const base = (keyCount.get(key) ?? 0) > 1 ? idOf([root.key, ...node.path].join('_')) : key;
    let candidate = base;
    for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${base}_${n}`;
    taken.add(candidate.toLowerCase());
    ids.set(node, candidate);
  }
  return ids;
}

/** `base`, or `base_2`, `base_3`...: the first that no state or box has taken. */
function freshId(
  base: string,
  ids: ReadonlyMap<AnyStateNode, string>,
  boxes: ReadonlyMap<AnyStateNode, string>,
): string {
  const taken = new Set([...ids.values(), ...boxes.values()].map((id) => id.toLowerCase()));
  let candidate = base;
  for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${base}_${n}`;
  return candidate;
}

/** Whether `node` holds `other` somewhere below it. */
function isAbove(node: AnyStateNode, other: AnyStateNode): boolean {
  for (let at = other.parent; at; at = at.parent) if (at === node) return true;
  return false;
}

function idOf(name: string): string {
  let id = name.replace(/[^A-Za-z0-9_]/g, '_');
  if (!/^[A-Za-z_]/.test(id)) id = `s_${id}`;
  return RESERVED_IDS.has(id.toLowerCase()) ? `${id}_` : id;
}

function stateLabel(node: AnyStateNode): string {
  if (node.type !== 'history') return node.key;
  return `${node.key} (${node.history === 'deep' ? 'H*' : 'H'})`;
}

/** A node's transitions with their triggers: eventless first, then by event, then delayed. */
function transitionsOf(
  node: AnyStateNode,
): { transition: Transition; trigger: string; guard: string | undefined }[] {
  const delays = new Map<string, unknown>();
  for (const delayed of node.after) delays.set(delayed.eventType, delayed.delay);
  const lists: [string, readonly Transition[]][] = [];
  if (node.always) lists.push(['always', node.always]);
  for (const [eventType, list] of node.transitions as Map<string, readonly Transition[]>) {
    lists.push([
      delays.has(eventType) ? afterTrigger(delays.get(eventType)) : eventName(node, eventType),
      list,
    ]);
  }
  return lists.flatMap(([trigger, list]) =>
    list.map((transition, i) => ({
      transition,
      trigger,
      // Candidates are tried in order: an unguarded one after guarded ones is their "else".
      guard:
        transition.guard !== undefined
          ? guardName(transition.guard)
          : list.slice(0, i).some((t) => t.guard !== undefined)
            ? 'else'
            : undefined,
    })),
  );
}

function afterTrigger(delay: unknown): string {
  return typeof delay === 'number' ? `after ${delay} ms` : `after ${String(delay)}`;
}

/** XState's own events, named as the config that made them. */
function eventName(node: AnyStateNode, eventType: string): string {
  const actor = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  if (actor) return `${actor[1] === 'done' ? 'onDone' : 'onError'}(${actorName(node, actor[2])})`;
  const snapshot = /^xstate\.snapshot\.(.+)$/.exec(eventType);
  if (snapshot) return `onSnapshot(${actorName(node, snapshot[1])})`;
  if (eventType.startsWith('xstate.done.state.')) return 'onDone';
  if (eventType === 'xstate.route') return 'route';
  return eventType;
}

/**
 * An invoked actor by the id it was given, or by its source when XState made
 * the id up (`0.machine.state`, which says nothing to a reader).
 */
function actorName(node: AnyStateNode, invokeId: string | undefined): string {
  const index = node.invoke.findIndex((invoke) => invoke.id === invokeId);
  const invoke = node.invoke[index];
  if (invoke === undefined) return String(invokeId);
  const src = typeof invoke.src === 'string' ? invoke.src : 'inline actor';
  return invoke.id === `${index}.${node.id}` ? src : invoke.id;
}

/** Entry and exit actions and invoked actors, as lines for inside the state. */
function stateActivities(node: AnyStateNode): string[] {
  const lines: string[] = [];
  const entry = node.entry.flatMap(actionName);
  if (entry.length > 0) lines.push(`entry / ${entry.join(', ')}`);
  for (const invoke of node.invoke) {
    const src = typeof invoke.src === 'string' ? invoke.src : 'inline actor';
    const name = actorName(node, invoke.id);
    lines.push(name === src ? `invokes ${src}` : `invokes ${src} as ${name}`);
  }
  const exit = node.exit.flatMap(actionName);
  if (exit.length > 0) lines.push(`exit / ${exit.join(', ')}`);
  return lines.map(text);
}

/**
 * An action's name; none for the timers XState adds to entry and exit to run
 * a state's `after` transitions, which the diagram shows as arrows instead.
 */
function actionName(action: unknown): string[] {
  if (typeof action === 'string') return [action];
  if (typeof action === 'function') {
    const type: unknown = Reflect.get(action, 'type');
    if (typeof type !== 'string') return [namedOr(action, 'inline action')];
    if (type === 'xstate.raise' && isAfterTimer(Reflect.get(action, 'id'))) return [];
    if (type === 'xstate.cancel' && isAfterTimer(Reflect.get(action, 'sendId'))) return [];
    return [type.replace(/^xstate\./, '')];
  }
  if (isTyped(action)) return [action.type];
  return ['inline action'];
}

function isAfterTimer(id: unknown): boolean {
  return typeof id === 'string' && id.startsWith('xstate.after.');
}

/** A guard as the reader would say it: `isWelcome`, `not(outputCongested)`, `and(a, b)`. */
function guardName(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const check: unknown = Reflect.get(guard, 'check');
    const inner: unknown = Reflect.get(guard, 'guards');
    const args = Array.isArray(inner) ? inner.map(guardName).join(', ') : '';
    switch (combinator(guard, check)) {
      case 'not':
        return `not(${args})`;
      case 'and':
        return `and(${args})`;
      case 'or':
        return `or(${args})`;
      case 'stateIn': {
        const value: unknown = Reflect.get(guard, 'stateValue');
        return `stateIn(${typeof value === 'string' ? value : JSON.stringify(value)})`;
      }
    }
    return namedOr(guard, 'inline guard');
  }
  if (isTyped(guard)) return guard.type;
  return 'inline guard';
}

/**
 * Which of XState's higher-order guards this is. Its `check` tells, when the
 * guard was made by the same copy of XState as this module's; by another copy
 * (a bundle, a second install) the function's name is all there is.
 */
function combinator(guard: object, check: unknown): string | undefined {
  if (check === undefined) return undefined;
  if (check === NOT_CHECK) return 'not';
  if (check === AND_CHECK) return 'and';
  if (check === OR_CHECK) return 'or';
  if (check === STATE_IN_CHECK) return 'stateIn';
  const name: unknown = Reflect.get(guard, 'name');
  return typeof name === 'string' && ['not', 'and', 'or', 'stateIn'].includes(name)
    ? name
    : undefined;
}

function namedOr(fn: object, fallback: string): string {
  const name: unknown = Reflect.get(fn, 'name');
  return typeof name === 'string' && !PLACE_NAMES.has(name) ? name : fallback;
}

function isTyped(value: unknown): value is { type: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { type?: unknown }).type === 'string'
  );
}

function checkOf(guard: unknown): unknown {
  return Reflect.get(guard as object, 'check');
}

function label(trigger: string, guard: string | undefined, actions: readonly string[]): string {
  const guarded = guard === undefined ? trigger : `${trigger} [${guard}]`;
  return text(actions.length > 0 ? `${guarded} / ${actions.join(', ')}` : guarded);
}

/**
 * Text that Mermaid's state-diagram grammar reads back as written: labels end
 * at a newline or `;`, `::` and `%%` mean something, `"` ends a state name.
 */
function text(value: string): string {
  return value
    .replace(/\s+/g, ' ')
    .replace(/;/g, ',')
    .replace(/"/g, "'")
    .replace(/:{2,}/g, ':')
    .replace(/%{2,}/g, '%')
    .trim();
}
