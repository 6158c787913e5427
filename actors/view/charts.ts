/**
 * The machines as the live view draws them: the same Mermaid text as
 * docs/machines.md (actors/cli/diagram.ts, from the machine definitions this
 * very process runs), the Mermaid id of each state so that the page can
 * light it, and the names of the states a connection can be in.
 *
 * Made at run time, once, rather than at build time: the page then always
 * shows the machines of the server it talks to, whatever was built since.
 */
import type { AnyStateMachine, AnyStateNode, StateValue } from 'xstate';
import { diagramStateIds, machineDiagram } from '../cli/diagram.js';
import { MACHINE_SECTIONS } from '../cli/diagrams.js';
import type { ChartInfo } from './protocol.js';

const NAMES: Readonly<Record<string, ChartInfo['name']>> = {
  Acceptor: 'acceptor',
  Connection: 'connection',
  Client: 'client',
};

let charts: readonly ChartInfo[] | undefined;

/** The three machines' charts, in the order a request meets them; made once per process. */
export function machineCharts(): readonly ChartInfo[] {
  charts ??= MACHINE_SECTIONS.map((section) => ({
    name: NAMES[section.title] ?? 'client',
    title: section.title,
    source: section.source,
    mermaid: machineDiagram(section.machine),
    ids: Object.fromEntries([...diagramStateIds(section.machine)].filter(([path]) => path !== '')),
  }));
  return charts;
}

/** The paths of a machine's leaf states (`handshake`, `serving.computing`), in document order. */
export function leafStates(machine: AnyStateMachine): string[] {
  const walk = (node: AnyStateNode): string[] => {
    const children = Object.values(node.states) as AnyStateNode[];
    return children.length === 0 ? [node.path.join('.')] : children.flatMap(walk);
  };
  return walk(machine.root);
}

/**
 * A state value as a path: `'closing'`, `{ serving: 'computing' }` →
 * `serving.computing`. A parallel state's regions are joined with `,`
 * (no machine the view shows has one).
 */
export function statePath(value: StateValue): string {
  if (typeof value === 'string') return value;
  return Object.entries(value)
    .map(([key, inner]) => {
      if (inner === undefined) return key;
      const rest = statePath(inner);
      return rest === '' ? key : `${key}.${rest}`;
    })
    .join(',');
}

/**
 * Turns state values into indexes into `states`, quickly: a compiled
 * connection's value is the same object for as long as it is in a state
 * (lib/statechart), so each object is looked up once. -1 for a value that
 * is none of `states`.
 */
export class StateIndex {
  readonly #byPath: ReadonlyMap<string, number>;
  readonly #byObject = new WeakMap<object, number>();

  constructor(readonly states: readonly string[]) {
    this.#byPath = new Map(states.map((path, i) => [path, i]));
  }

  of(value: StateValue): number {
    if (typeof value === 'string') return this.#byPath.get(value) ?? -1;
    let index = this.#byObject.get(value);
    if (index === undefined) {
      index = this.#byPath.get(statePath(value)) ?? -1;
      this.#byObject.set(value, index);
    }
    return index;
  }
}
