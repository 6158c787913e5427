/**
 * The readings over the last minutes, with uPlot: one small chart per
 * reading, one line per station. uPlot draws on a canvas and redraws
 * thousands of points in a millisecond or two, so a new sample costs nothing
 * worth counting.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ReadingSample, StationLabel } from '../protocol.js';

const TITLES: Readonly<Record<string, string>> = {
  minTemperature: 'Minimum temperature, °C (today)',
  maxTemperature: 'Maximum temperature, °C (today)',
  pressure: 'Pressure, hPa',
  rainfall: 'Rainfall, mm (today)',
};

const COLOURS = ['#1565c0', '#c62828', '#2e7d32', '#6a1b9a', '#ef6c00', '#00838f'];

export class ReadingPlots {
  readonly #plots: uPlot[] = [];
  readonly #times: number[] = [];
  /** values[reading][station][i] */
  readonly #values: (number | null)[][][];
  readonly #capacity: number;
  readonly #container: HTMLElement;
  readonly #readings: readonly string[];
  readonly #stations: readonly StationLabel[];

  constructor(
    container: HTMLElement,
    readings: readonly string[],
    stations: readonly StationLabel[],
    capacity: number,
  ) {
    this.#container = container;
    this.#readings = readings;
    this.#stations = stations;
    this.#capacity = capacity;
    this.#values = readings.map(() => stations.map(() => []));
    container.textContent = '';
    readings.forEach((reading) => {
      const box = document.createElement('div');
      box.className = 'plot';
      box.dataset['reading'] = reading;
      const title = document.createElement('h3');
      title.textContent = TITLES[reading] ?? reading;
      box.append(title);
      container.append(box);
      const plot = new uPlot(
        {
          width: this.#width(),
          height: 180,
          cursor: { drag: { x: false, y: false } },
          legend: { show: stations.length > 1, live: false },
          scales: { x: { time: true } },
          series: [
            {},
            ...stations.map((station, s) => ({
              label: station.id,
              stroke: COLOURS[s % COLOURS.length] ?? '#333',
              width: 2,
              spanGaps: false,
              points: { show: true, size: 4 },
            })),
          ],
          axes: [{}, { size: 60 }],
        },
        [[], ...stations.map(() => [])],
        box,
      );
      this.#plots.push(plot);
    });
    window.addEventListener('resize', () => {
      for (const plot of this.#plots) plot.setSize({ width: this.#width(), height: 180 });
    });
  }

  /** Points drawn so far (the newest sample's time is the last). */
  get points(): number {
    return this.#times.length;
  }

  #width(): number {
    const columns = Math.max(1, Math.floor(this.#container.clientWidth / 430));
    return Math.max(320, Math.floor(this.#container.clientWidth / columns) - 24);
  }

  /** Replaces what is drawn with these samples. */
  reset(samples: readonly ReadingSample[]): void {
    this.#times.length = 0;
    for (const byStation of this.#values) for (const line of byStation) line.length = 0;
    this.add(samples);
  }

  /** Adds new samples, oldest first, keeping the last `capacity`. */
  add(samples: readonly ReadingSample[]): void {
    if (samples.length === 0 && this.#times.length > 0) return;
    for (const sample of samples) {
      this.#times.push(sample.t / 1000);
      this.#readings.forEach((_, r) => {
        this.#stations.forEach((_, s) => {
          this.#values[r]?.[s]?.push(sample.values[s]?.[r] ?? null);
        });
      });
    }
    const over = this.#times.length - this.#capacity;
    if (over > 0) {
      this.#times.splice(0, over);
      for (const byStation of this.#values) for (const line of byStation) line.splice(0, over);
    }
    this.#plots.forEach((plot, r) => {
      plot.setData([this.#times, ...(this.#values[r] ?? [])] as uPlot.AlignedData);
    });
  }
}
