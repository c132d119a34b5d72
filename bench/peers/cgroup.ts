// Equal footing on a shared machine: notebookd puts each instance in a cgroup with its flavor's
// CPU weight (2 vCPUs = 2048 shares) and memory limit, under a parent weighted by all of them, so
// on a busy host its servers would get more CPU than a plain process. The bench gives the bare
// servers and JupyterHub's servers the very same kind of cgroup (the runtime's own code, the same
// parent, the same flavor), one per server for the time it runs; the control planes (notebookd,
// the hub and its proxy) stay in the bench's cgroup. Where cgroups are unavailable nothing is done.
import { dirname } from 'node:path';
import { createCgroups, procsFiles, removeCgroup } from '../../src/runtime/local/cgroups.ts';
import { cgroupDirs, type CgroupRef } from '../../src/runtime/local/cgroup-paths.ts';

/** notebookd's modelarts.vm.cpu.2u, the flavor the bench creates. */
const FLAVOR = { vcpus: 2, memoryMb: 8 * 1024, pidsMax: 1024 };

export interface PeerCgroups {
  note: string;
  /** The parent directories (one per controller hierarchy); empty without cgroups. */
  parents: string[];
  /** A fresh cgroup named `name`; its cgroup.procs files (empty without cgroups). */
  enter(name: string): Promise<string[]>;
  leave(name: string): Promise<void>;
}

export async function peerCgroups(): Promise<PeerCgroups> {
  const cgroups = createCgroups({ mode: 'auto', root: '' });
  const support = await cgroups.support();
  const refs = new Map<string, CgroupRef>();
  const enter = async (name: string) => {
    const ref = await cgroups.create(name, FLAVOR);
    if (!ref) return [];
    refs.set(name, ref);
    return procsFiles(ref);
  };
  const leave = async (name: string) => {
    const ref = refs.get(name);
    refs.delete(name);
    if (ref) await removeCgroup(ref, 5_000);
  };
  if (!support.available) return { note: `peers run without cgroups (${support.message})`, parents: [], enter, leave };
  await enter('peer-probe');
  const parents = cgroupDirs(refs.get('peer-probe')!).map((d) => dirname(d));
  await leave('peer-probe');
  return { note: `every Jupyter server (bare, JupyterHub's, notebookd's) runs in a cgroup of the 2-vCPU flavor under ${parents.join(', ')}`, parents, enter, leave };
}
