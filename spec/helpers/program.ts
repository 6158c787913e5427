/** A program of this repository run to its end, as a user runs it, for specs of command lines. */
import { execFile } from 'node:child_process';

export interface ProgramRun {
  /** The exit status (1 when the program was killed, at the timeout say). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node script ...args` and resolves when it exits; kills it after
 * `timeoutMs`. `env` is added to this process's environment.
 */
export function runScript(
  script: string,
  args: readonly string[],
  timeoutMs = 60_000,
  env: Readonly<Record<string, string>> = {},
): Promise<ProgramRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { timeout: timeoutMs, env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}
