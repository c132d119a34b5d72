// Process CPU as activity: from two readings of an instance's cumulative CPU time, the average
// number of cores it used in between. Above a threshold (a computation, a build, a training run
// in a terminal or over SSH) it counts; an idle Jupyter server with idle kernels stays far below.

export interface CpuReading {
  cpuSeconds: number;
  at: number;
}

/** Average cores used between two readings, or null when they cannot be compared. */
export function coresBetween(before: CpuReading | undefined, after: CpuReading): number | null {
  if (!before || after.at <= before.at) return null;
  const used = after.cpuSeconds - before.cpuSeconds;
  // A drop means processes exited (and their time left the tree) or a new run: no verdict.
  if (used < 0) return null;
  return used / ((after.at - before.at) / 1000);
}
