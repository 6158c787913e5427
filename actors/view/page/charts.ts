/**
 * The machines drawn with Mermaid, from the text the server sends (the same
 * as docs/machines.md), and lit where the actors are. A chart is drawn once;
 * lighting a state only changes a class on its node, so it costs nothing to
 * follow a busy connection.
 */
import mermaid from 'mermaid';
import type { ChartInfo } from '../protocol.js';

mermaid.initialize({
  startOnLoad: false,
  // Mermaid's own sanitising of labels; the page never runs text from the server as code.
  securityLevel: 'strict',
  theme: 'neutral',
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif',
  state: { useMaxWidth: false },
});

const SVG = 'http://www.w3.org/2000/svg';

export interface DrawnChart {
  readonly info: ChartInfo;
  /** The node of each state, by path. */
  readonly nodes: ReadonlyMap<string, SVGGElement>;
  readonly lit: Set<string>;
  readonly badges: Map<string, SVGTextElement>;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Draws `chart` into `container` (emptied first); `svgId` must be unique in the page. */
export async function drawChart(
  container: HTMLElement,
  chart: ChartInfo,
  svgId: string,
): Promise<DrawnChart> {
  const { svg } = await mermaid.render(svgId, chart.mermaid);
  container.innerHTML = svg;
  const groups = [...container.querySelectorAll<SVGGElement>('g[id]')];
  const nodes = new Map<string, SVGGElement>();
  for (const [path, id] of Object.entries(chart.ids)) {
    // Mermaid names a state's node `<svg id>-state-<state id>-<n>`.
    const pattern = new RegExp(`^${escapeRegExp(svgId)}-state-${escapeRegExp(id)}-\\d+$`);
    const node = groups.find((group) => pattern.test(group.id));
    if (node) nodes.set(path, node);
  }
  return { info: chart, nodes, lit: new Set(), badges: new Map() };
}

/** Lights exactly the states of `paths`. */
export function light(chart: DrawnChart, paths: Iterable<string>): void {
  const wanted = new Set(paths);
  for (const path of chart.lit) {
    if (!wanted.has(path)) chart.nodes.get(path)?.classList.remove('lit');
  }
  for (const path of wanted) {
    if (!chart.lit.has(path)) chart.nodes.get(path)?.classList.add('lit');
  }
  chart.lit.clear();
  for (const path of wanted) chart.lit.add(path);
}

/** Writes `count` in a badge at the top right of a state's node; none for 0. */
export function badge(chart: DrawnChart, path: string, count: number): void {
  const node = chart.nodes.get(path);
  if (!node) return;
  let text = chart.badges.get(path);
  if (count === 0) {
    if (text) text.parentElement?.setAttribute('visibility', 'hidden');
    return;
  }
  if (!text) {
    // On the top right corner of the state's box (not of its label, which can be wider).
    const shape = node.querySelector<SVGGraphicsElement>('rect.label-container, rect.outer');
    const box = (shape ?? node).getBBox();
    const group = document.createElementNS(SVG, 'g');
    group.setAttribute('class', 'badge');
    group.dataset['right'] = String(box.x + box.width + 6);
    group.dataset['top'] = String(box.y - 10);
    const rect = document.createElementNS(SVG, 'rect');
    text = document.createElementNS(SVG, 'text');
    rect.setAttribute('y', String(box.y - 10));
    rect.setAttribute('height', '16');
    rect.setAttribute('rx', '8');
    text.setAttribute('y', String(box.y + 2));
    group.append(rect, text);
    node.append(group);
    chart.badges.set(path, text);
  }
  const label = String(count);
  if (text.textContent !== label) {
    text.textContent = label;
    const width = label.length * 7.5 + 12;
    const left = Number(text.parentElement?.dataset['right']) - width;
    text.previousElementSibling?.setAttribute('width', String(width));
    text.previousElementSibling?.setAttribute('x', String(left));
    text.setAttribute('x', String(left + 6));
  }
  text.parentElement?.setAttribute('visibility', 'visible');
}
