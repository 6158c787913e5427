/**
 * What the OS says about a process (Linux /proc, proc(5)): its CPU time, all
 * threads included, and its resident memory. The server's cost is read here
 * rather than inside the server, so the figure counts every thread (the
 * Piscina workers too) and does not depend on how the load generator shares
 * the cores.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * A process and its descendants: a server started with --cluster is a
 * primary and its server processes, and its cost is theirs together. A
 * process that ends while it is read is left out.
 */
function processTree(pid: number): number[] {
  const tree: number[] = [];
  const visit = (at: number): void => {
    tree.push(at);
    let children = '';
    try {
      children = readFileSync(`/proc/${at}/task/${at}/children`, 'latin1');
    } catch {
      return;
    }
    for (const child of children.trim().split(/\s+/)) if (child !== '') visit(Number(child));
  };
  visit(pid);
  return tree;
}

function sumOverTree(pid: number, read: (at: number) => number): number {
  let sum = 0;
  for (const at of processTree(pid)) {
    try {
      sum += read(at);
    } catch (err) {
      // The server itself must be readable; a child that has just ended is not counted.
      if (at === pid) throw err;
    }
  }
  return sum;
}

/** CPU time a process (and its child processes) has used: user + system, all threads, in clock ticks. */
export function cpuTicks(pid: number): number {
  return sumOverTree(pid, (at) => ticksOf(`/proc/${at}/stat`));
}

/**
 * CPU time of the main threads alone (the event loops, for Node) of a
 * process and its child processes, in clock ticks: the rest of `cpuTicks`
 * is worker threads, the garbage collector's helpers and libuv's thread pool.
 */
export function mainThreadCpuTicks(pid: number): number {
  return sumOverTree(pid, (at) => ticksOf(`/proc/${at}/task/${at}/stat`));
}

function ticksOf(path: string): number {
  const stat = readFileSync(path, 'latin1');
  // Field 2 (comm) is in parentheses and may hold spaces; count fields after its last ')'.
  // What follows is field 3 (state) onwards; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`cannot read utime and stime from ${path}`);
  }
  return utime + stime;
}

/**
 * CPU time the whole machine has spent busy (every process, every core):
 * user, nice, system, irq, softirq and steal from the first line of
 * /proc/stat, in clock ticks. Less the server's and the load generator's
 * own, it says how much else ran during a window: the noise of a shared machine.
 */
export function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>((a, b) => a + (b ?? 0), 0);
  if (!Number.isFinite(busy)) throw new Error('cannot read the cpu line of /proc/stat');
  return busy;
}

/** Resident set size of a process and its child processes, bytes (VmRSS). */
export function rssBytes(pid: number): number {
  return sumOverTree(pid, (at) => {
    const status = readFileSync(`/proc/${at}/status`, 'latin1');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    if (!match) throw new Error(`no VmRSS in /proc/${at}/status`);
    return Number(match[1]) * 1024;
  });
}

/** Clock ticks per second, the unit of /proc CPU times (`getconf CLK_TCK`, 100 on Linux). */
export function clockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (Number.isInteger(ticks) && ticks > 0) return ticks;
  } catch {
    // No getconf: fall through to the value every Linux build uses.
  }
  return 100;
}

/** The machine a run came from, for docs/PERFORMANCE.md. */
export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
  readonly clockTicksPerSecond: number;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpuModel;
  } catch {
    // Not Linux: os.cpus() is the best there is.
  }
  let online = cpus().length;
  try {
    online = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || online;
  } catch {
    // No nproc: os.cpus() counts the same cores, usually.
  }
  return {
    cpus: online,
    cpuModel,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    clockTicksPerSecond: clockTicksPerSecond(),
  };
}
