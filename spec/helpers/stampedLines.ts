/**
 * The lines a child process writes, each stamped with the time this process
 * read it, so that a spec can say which of two processes said something
 * first (HAProxy's "is DOWN" before a server's "stopped accepting").
 */
import type { Readable } from 'node:stream';
import { until } from './wait.js';

export interface StampedLine {
  /** When this process read the line (performance.now(), ms). */
  readonly at: number;
  readonly text: string;
}

export class StampedLines {
  readonly lines: StampedLine[] = [];
  #partial = '';

  constructor(stream: Readable) {
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      const at = performance.now();
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop() ?? '';
      for (const text of parts) this.lines.push({ at, text });
    });
  }

  /** The first line read after `since` (performance.now()) that matches. */
  find(predicate: (text: string) => boolean, since = 0): StampedLine | undefined {
    return this.lines.find((line) => line.at > since && predicate(line.text));
  }

  /**
   * Resolves with the first line read after `since` that matches, once there
   * is one; rejects, naming `what`, after `timeoutMs`.
   */
  async first(
    predicate: (text: string) => boolean,
    what: string,
    { since = 0, timeoutMs = 10_000 } = {},
  ): Promise<StampedLine> {
    await until(() => this.find(predicate, since) !== undefined, what, timeoutMs).catch(
      (err: Error) => {
        throw new Error(`${err.message}; the lines so far:\n${this.text()}`);
      },
    );
    return this.find(predicate, since) as StampedLine;
  }

  /** Everything so far, for a failure's message. */
  text(): string {
    return this.lines.map((line) => line.text).join('\n') + this.#partial;
  }
}
