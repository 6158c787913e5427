/**
 * Every open connection as a small tile, coloured by its state, on one
 * canvas: ten thousand tiles are ten thousand rectangles, redrawn a few
 * times a second, where as many elements would bring a page to a crawl.
 */

export interface Tile {
  readonly n: number;
  readonly state: number;
}

const SIZE = 10;
const GAP = 2;
const PITCH = SIZE + GAP;

export class TileGrid {
  readonly #canvas: HTMLCanvasElement;
  readonly #colours: readonly string[];
  #tiles: readonly Tile[] = [];
  #columns = 1;
  #selected: number | null = null;

  constructor(canvas: HTMLCanvasElement, colours: readonly string[]) {
    this.#canvas = canvas;
    this.#colours = colours;
  }

  set selected(n: number | null) {
    this.#selected = n;
  }

  /** Draws `tiles` in order. */
  draw(tiles: readonly Tile[]): void {
    this.#tiles = tiles;
    const ratio = window.devicePixelRatio || 1;
    const width = this.#canvas.clientWidth || 600;
    this.#columns = Math.max(1, Math.floor(width / PITCH));
    const rows = Math.max(1, Math.ceil(tiles.length / this.#columns));
    const height = rows * PITCH;
    if (this.#canvas.width !== Math.round(width * ratio))
      this.#canvas.width = Math.round(width * ratio);
    if (this.#canvas.height !== Math.round(height * ratio)) {
      this.#canvas.height = Math.round(height * ratio);
      this.#canvas.style.height = `${height}px`;
    }
    const context = this.#canvas.getContext('2d');
    if (!context) return;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    tiles.forEach((tile, i) => {
      const x = (i % this.#columns) * PITCH;
      const y = Math.floor(i / this.#columns) * PITCH;
      context.fillStyle = this.#colours[tile.state] ?? '#999';
      context.fillRect(x, y, SIZE, SIZE);
      if (tile.n === this.#selected) {
        context.strokeStyle = '#000';
        context.lineWidth = 2;
        context.strokeRect(x - 1, y - 1, SIZE + 2, SIZE + 2);
      }
    });
  }

  /** The tile under a point of the canvas (CSS pixels from its corner), if any. */
  at(x: number, y: number): Tile | undefined {
    const column = Math.floor(x / PITCH);
    const row = Math.floor(y / PITCH);
    if (column >= this.#columns || x % PITCH > SIZE || y % PITCH > SIZE) return undefined;
    return this.#tiles[row * this.#columns + column];
  }
}
