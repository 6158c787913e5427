/**
 * The live view's page (issue #13): it opens the feed's WebSocket on the
 * server that served it, keeps a picture of the server from the `hello`, the
 * `full` and the `delta` messages (actors/view/protocol.ts), and draws it.
 * When the socket goes, it says so and connects again by itself, backing
 * off; the server sends a full picture to a page that joins, so nothing is
 * lost but the time it was away.
 *
 * `window.meteoView` exposes a few figures for the specs (spec/integration/
 * liveView.browser.spec.ts): when updates arrived, what is lit.
 */
import type {
  ChartInfo,
  ConnectionRow,
  DetailEvent,
  FeedMessage,
  FullMessage,
  HelloMessage,
  OpenedRow,
  PoolFigures,
  ViewFigures,
} from '../protocol.js';
import { FEED_PATH } from '../protocol.js';
import { badge, type DrawnChart, drawChart, light } from './charts.js';
import { ReadingPlots } from './plots.js';
import './style.css';
import { TileGrid } from './tiles.js';

/** Rows the table lists; the tiles show every connection. */
const TABLE_ROWS = 100;
/** Events the detail keeps on screen. */
const DETAIL_EVENTS = 60;
const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 4_000;
const STATE_COLOURS = [
  '#90a4ae', // handshake
  '#66bb6a', // serving.awaiting-request
  '#ffa726', // serving.computing
  '#42a5f5', // serving.replying
  '#ab47bc', // draining.next-batch
  '#ef6c00', // draining.computing
  '#1e88e5', // draining.replying
  '#e53935', // closing
  '#424242', // closed
];

interface Row {
  n: number;
  state: number;
  replies: number;
  error: string | null;
  peer: string;
  openedAt: number;
  /** The client it was welcomed as (issue #14); null while none is known. */
  client: string | null;
}

const figures: ViewFigures = {
  connected: false,
  updates: [],
  hello: null,
  open: 0,
  samples: 0,
  plotted: [],
  acceptor: '',
  detail: null,
  violations: [],
};
(window as unknown as { meteoView: ViewFigures }).meteoView = figures;
document.addEventListener('securitypolicyviolation', (event) => {
  figures.violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

function text(tag: string, content: string, className?: string): HTMLElement {
  const node = document.createElement(tag);
  node.textContent = content;
  if (className) node.className = className;
  return node;
}

function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function shortState(path: string): string {
  return path.replace(/^serving\./, '').replace(/^draining\./, 'draining · ');
}

function setStatus(status: 'connecting' | 'live' | 'disconnected', words: string): void {
  document.body.dataset['status'] = status;
  element('status').textContent = words;
}

// ------------------------------------------------------------------ the picture

let hello: HelloMessage | null = null;
const rows = new Map<number, Row>();
let clockOffset = 0;
let counts: readonly number[] = [];
let pool: PoolFigures | null = null;
let acceptor = '';
let plots: ReadingPlots | null = null;
let tiles: TileGrid | null = null;
const charts = new Map<string, DrawnChart>();
let detailChart: DrawnChart | null = null;
let drawing: Promise<void> = Promise.resolve();
let selected: number | null = null;
let socket: WebSocket | null = null;

function stateName(index: number): string {
  return hello?.states[index] ?? '?';
}

/** A connection new to the page comes with its peer and opening time; a changed one without. */
function isOpened(row: OpenedRow | ConnectionRow): row is OpenedRow {
  return row.length >= 6;
}

function applyRow(row: OpenedRow | ConnectionRow): void {
  const [n, state, replies, error] = row;
  // Sent once, when it becomes known (actors/view/protocol.ts): absent, it is as it was.
  const client = isOpened(row) ? row[6] : row[4];
  const known = rows.get(n);
  if (known) {
    known.state = state;
    known.replies = replies;
    known.error = error;
    if (client !== undefined) known.client = client;
  } else if (isOpened(row)) {
    rows.set(n, {
      n,
      state,
      replies,
      error,
      peer: row[4],
      openedAt: row[5],
      client: client ?? null,
    });
  }
}

async function onHello(message: HelloMessage): Promise<void> {
  const restarted = hello !== null && hello.startedAt !== message.startedAt;
  const chartsChanged =
    hello === null || JSON.stringify(hello.charts) !== JSON.stringify(message.charts);
  hello = message;
  figures.hello = message;
  element('server').textContent = `${message.server}, protocol port ${message.port}`;
  if (plots === null || restarted) {
    plots = new ReadingPlots(
      element('plots'),
      message.readings,
      message.stations,
      message.historyLength,
    );
    element('readings-note').textContent =
      `(sampled every ${message.sampleMs / 1000} s while this page is open; the last ${Math.round((message.historyLength * message.sampleMs) / 60_000)} minutes; the stations sample once a minute)`;
  }
  tiles ??= new TileGrid(element<HTMLCanvasElement>('tiles'), STATE_COLOURS);
  const legend = element('legend');
  legend.textContent = '';
  message.states.forEach((state, i) => {
    const item = document.createElement('span');
    const swatch = text('span', '', 'swatch');
    swatch.style.background = STATE_COLOURS[i] ?? '#999';
    item.append(swatch, state);
    legend.append(item);
  });
  if (chartsChanged) drawing = drawing.then(() => drawCharts(message.charts));
  await drawing;
}

async function drawCharts(infos: readonly ChartInfo[]): Promise<void> {
  const container = element('charts');
  container.textContent = '';
  charts.clear();
  for (const info of infos) {
    const box = document.createElement('div');
    box.className = 'chart';
    box.dataset['machine'] = info.name;
    box.append(
      text('h3', info.title),
      text(
        'p',
        info.name === 'client'
          ? `${info.source}. Clients run elsewhere: the server cannot see their states, so nothing is lit here.`
          : info.name === 'acceptor'
            ? `${info.source}. Lit: the state the server's front door is in.`
            : `${info.source}. Lit: every state some connection is in, with how many.`,
      ),
    );
    const drawingBox = document.createElement('div');
    box.append(drawingBox);
    container.append(box);
    charts.set(info.name, await drawChart(drawingBox, info, `chart-${info.name}`));
  }
  const connection = infos.find((info) => info.name === 'connection');
  if (connection) {
    detailChart = await drawChart(element('detail-chart'), connection, 'chart-detail');
  }
  render();
}

function onFull(message: FullMessage): void {
  rows.clear();
  for (const row of message.rows) applyRow(row);
  plots?.reset(message.samples);
  figures.samples = message.samples.length;
  figures.plotted = message.samples.at(-1)?.values.flat() ?? figures.plotted;
  onFigures(message);
}

function onFigures(message: {
  now: number;
  acceptor: string;
  counts: readonly number[];
  pool: PoolFigures;
}): void {
  clockOffset = message.now - Date.now();
  counts = message.counts;
  pool = message.pool;
  acceptor = message.acceptor;
  figures.updates.push(performance.now());
  if (figures.updates.length > 50) figures.updates.shift();
  render();
}

function onDetail(n: number, state: number, closed: boolean, events: readonly DetailEvent[]): void {
  if (n !== selected) return;
  const path = stateName(state);
  element('detail-state').textContent = closed ? `${path} (closed)` : path;
  const chart = element('detail-chart');
  chart.dataset['state'] = path;
  if (detailChart) light(detailChart, [path]);
  const list = element('detail-events');
  for (const event of events) {
    const item = document.createElement('li');
    const time = new Date(event.t).toISOString().slice(11, 23);
    item.append(
      text('span', `${time} `, 'muted'),
      text('span', event.event, 'event'),
      text('span', event.note ? ` (${event.note})` : ''),
      text('span', ` → ${event.states.map((s) => shortState(stateName(s))).join(' → ')}`, 'state'),
    );
    list.prepend(item);
  }
  while (list.childElementCount > DETAIL_EVENTS) list.lastElementChild?.remove();
  figures.detail = {
    n,
    state: path,
    events: (figures.detail?.n === n ? figures.detail.events : 0) + events.length,
    closed,
  };
}

function select(n: number | null): void {
  selected = n;
  if (tiles) tiles.selected = n;
  figures.detail = null;
  const detail = element('detail');
  detail.hidden = n === null;
  element('detail-events').textContent = '';
  element('detail-name').textContent = n === null ? '' : `connection.${n}`;
  element('detail-client').textContent = '';
  element('detail-state').textContent = '';
  if (detailChart) light(detailChart, []);
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'watch', n }));
  render();
}

// ------------------------------------------------------------------ drawing

function render(): void {
  if (!hello) return;
  const states = hello.states;
  figures.open = rows.size;
  figures.acceptor = acceptor;
  element('open').textContent = rows.size.toLocaleString('en-US');
  element('acceptor').textContent = `acceptor: ${acceptor}`;
  const countBox = element('counts');
  countBox.textContent = '';
  states.forEach((state, i) => {
    const item = document.createElement('div');
    const label = text('span', shortState(state));
    const swatch = text('span', '', 'swatch');
    swatch.style.background = STATE_COLOURS[i] ?? '#999';
    label.prepend(swatch);
    item.append(text('b', String(counts[i] ?? 0)), label);
    countBox.append(item);
  });
  const poolBox = element('pool');
  poolBox.textContent = '';
  if (pool) {
    for (const [value, label] of [
      [String(pool.threads), 'threads'],
      [String(pool.queued), 'tasks queued'],
      [`${Math.round(pool.utilization * 100)} %`, 'busy'],
      [pool.readsPerSecond.toLocaleString('en-US'), 'reads/s'],
    ] as const) {
      const item = document.createElement('div');
      item.append(text('b', value), text('span', label));
      poolBox.append(item);
    }
  }
  const followed = selected === null ? undefined : rows.get(selected);
  if (followed) {
    element('detail-client').textContent =
      followed.client === null ? '' : `client ${followed.client}`;
  }
  const ordered = [...rows.values()];
  tiles?.draw(ordered);
  const body = element('table').querySelector('tbody') as HTMLTableSectionElement;
  const now = Date.now() + clockOffset;
  body.textContent = '';
  for (const row of ordered.slice(0, TABLE_ROWS)) {
    const line = document.createElement('tr');
    line.dataset['n'] = String(row.n);
    if (row.n === selected) line.className = 'selected';
    line.append(
      text('td', String(row.n)),
      text('td', stateName(row.state), 'state'),
      text('td', row.client ?? '', 'client'),
      text('td', row.peer),
      text('td', age(now - row.openedAt)),
      text('td', String(row.replies)),
      text('td', row.error ?? '', 'error'),
    );
    body.append(line);
  }
  element('table-note').textContent =
    ordered.length > TABLE_ROWS
      ? `The first ${TABLE_ROWS} of ${ordered.length.toLocaleString('en-US')}: hover a tile for any other.`
      : '';
  const acceptorChart = charts.get('acceptor');
  if (acceptorChart) light(acceptorChart, acceptor ? [acceptor] : []);
  const connectionChart = charts.get('connection');
  if (connectionChart) {
    light(
      connectionChart,
      states.filter((_, i) => (counts[i] ?? 0) > 0),
    );
    states.forEach((state, i) => {
      badge(connectionChart, state, counts[i] ?? 0);
    });
  }
}

// ------------------------------------------------------------------ the socket

let attempt = 0;

function connect(): void {
  const ws = new WebSocket(`ws://${location.host}${FEED_PATH}`);
  socket = ws;
  ws.onopen = () => {
    attempt = 0;
    figures.connected = true;
    setStatus('live', 'live');
  };
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as FeedMessage;
    switch (message.type) {
      case 'hello':
        void onHello(message).then(() => {
          if (selected !== null) ws.send(JSON.stringify({ type: 'watch', n: selected }));
        });
        break;
      case 'full':
        onFull(message);
        break;
      case 'delta':
        for (const row of message.opened) applyRow(row);
        for (const row of message.changed) applyRow(row);
        for (const n of message.closed) rows.delete(n);
        plots?.add(message.samples);
        figures.samples += message.samples.length;
        figures.plotted = message.samples.at(-1)?.values.flat() ?? figures.plotted;
        onFigures(message);
        break;
      case 'detail':
        onDetail(message.n, message.state, message.closed, message.events);
        break;
      case 'detail-refused':
        if (message.n === selected) {
          element('detail-state').textContent =
            message.reason === 'busy'
              ? `not shown: the server already shows ${hello?.detailLimit ?? 16} connections in detail`
              : 'closed';
        }
        break;
    }
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    figures.connected = false;
    const wait = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** attempt++);
    setStatus(
      'disconnected',
      `disconnected from the server; trying again in ${(wait / 1000).toFixed(1)} s`,
    );
    setTimeout(connect, wait);
  };
}

// ------------------------------------------------------------------ the user

const canvas = element<HTMLCanvasElement>('tiles');
const tip = element('tip');
canvas.addEventListener('mousemove', (event) => {
  const tile = tiles?.at(event.offsetX, event.offsetY);
  const row = tile ? rows.get(tile.n) : undefined;
  if (!row) {
    tip.hidden = true;
    return;
  }
  tip.hidden = false;
  tip.textContent = [
    `connection.${row.n}  ${stateName(row.state)}`,
    `peer ${row.peer}${row.client === null ? '' : `, client ${row.client}`}`,
    `age ${age(Date.now() + clockOffset - row.openedAt)}`,
    `replies ${row.replies}${row.error ? `, last error ${row.error}` : ''}`,
  ].join('\n');
  tip.style.left = `${event.offsetX + 16}px`;
  tip.style.top = `${event.offsetY + 16}px`;
});
canvas.addEventListener('mouseleave', () => {
  tip.hidden = true;
});
canvas.addEventListener('click', (event) => {
  const tile = tiles?.at(event.offsetX, event.offsetY);
  if (tile) select(tile.n);
});
element('table').addEventListener('click', (event) => {
  const line = (event.target as HTMLElement).closest('tr');
  const n = Number(line?.dataset['n']);
  if (Number.isSafeInteger(n) && n > 0) select(n);
});
element('detail-close').addEventListener('click', () => select(null));

connect();
