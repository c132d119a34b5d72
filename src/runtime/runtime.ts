// The runtime contract: how an instance's Jupyter server is made to exist somewhere. Every
// implementation (local/, fake/, later container/, slurm/, kubernetes/) passes
// test/contract/runtime.contract.ts. The orchestrator (scheduler/reconciler.ts), not the runtime,
// owns timeouts and readiness checks; a runtime only does what it is told and reports.
import type { ChildProcess } from 'node:child_process';
import type { ImageProgram } from '../domain/catalog.ts';
import type { HooksSpec, RuntimeTarget } from '../domain/notebook.ts';

export interface InstanceSpec {
  instanceId: string;
  /** The Jupyter base path the server must serve under, e.g. /nb/<id>/ (the proxy keeps it). */
  basePath: string;
  /** The internal Jupyter credential for this run; new on every start. */
  jupyterToken: string;
  program: ImageProgram;
  imageId: string;
  vcpus: number;
  memoryMb: number;
  capacityGb: number;
  hooks: HooksSpec | null;
  /** GPUs of the flavor (cluster runtimes request them); absent means none. */
  gpus?: number;
  /** The image's container reference (swr_path), for runtimes that run images. */
  imageRef?: string;
  /** The TIMING lease's length (null: auto-stop off), for runtimes with a time limit of their own. */
  leaseMs?: number | null;
  /** The instance endpoints' allowed_access_ips, for runtimes that enforce them in the network too. */
  allowedAccessIps?: string[];
}

export type PrepareStep = 1 | 2 | 3;
/** Creation steps 1..3 (storage, compute, network) as the runtime really performs them. */
export type ProgressReporter = (step: PrepareStep, status: 'PROCESSING' | 'COMPLETED') => Promise<void> | void;

/** Opaque, JSON-serialisable: the store keeps it so a restarted notebookd can adopt the instance. */
export type RuntimeHandle = Record<string, unknown>;

export interface Launched {
  handle: RuntimeHandle;
  target: RuntimeTarget;
  /** What this run lacks on this host (no sandbox, limits not enforced...), for the instance's events. */
  notes?: string[];
}

export type PollResult =
  | { state: 'running' }
  | {
      state: 'exited';
      exitCode: number | null;
      reason: string;
      /** Set when another launch would not meet the same fault (its port was taken between choosing and binding): why. */
      retryable?: string;
    }
  | { state: 'lost'; reason: string };

export interface Availability {
  available: boolean;
  /** Says what is missing and how to install it, when not available. */
  message: string;
  /** Available, but degraded on this host (e.g. no sandbox): shown as the image's status_message. */
  warning?: string;
}

export interface ExecRequest {
  /** The program and its arguments; empty means the instance user's login shell. */
  argv: string[];
  env?: Record<string, string>;
  /** Allocate a pseudo-terminal of this size (an interactive shell or `ssh -t`). */
  pty?: { term: string; cols: number; rows: number };
}

/** One reading of an instance's resource usage. */
export interface RuntimeSample {
  /** CPU time used so far by all of the instance's processes (user + system), in seconds; only differences mean anything. */
  cpuSeconds: number;
  /** Resident memory of those processes now. */
  memoryBytes: number;
  /** How many processes were counted. */
  processes: number;
}

export interface RuntimeLogs {
  hooks: string;
  server: string;
}

/** What a runtime guarantees about its instances on this host; the conformance suite checks each one declared. */
export interface RuntimeCapabilities {
  /** Instances run as an unprivileged user and see neither notebookd's processes nor its files. */
  isolation: boolean;
  /** The flavor's memory is enforced; an instance past it is reported by poll as out of memory. */
  memoryLimit: boolean;
  /** A volume holds exactly its capacity: writes past it fail with ENOSPC. */
  volumeCapacity: boolean;
}

export interface Runtime {
  readonly kind: string;
  /** Can this runtime run the image's program on this host? Cheap; may be cached. */
  checkImage(program: ImageProgram): Promise<Availability>;
  /** Makes storage, compute and network ready (idempotent: may be called again after a crash). */
  prepare(spec: InstanceSpec, report: ProgressReporter): Promise<void>;
  /** Launches the server (running hooks as the spec says). Resolves once launched, not once ready. */
  start(spec: InstanceSpec): Promise<Launched>;
  /** Returns only when the server is gone: SIGTERM, then SIGKILL after graceMs. Idempotent. */
  stop(handle: RuntimeHandle, graceMs: number): Promise<void>;
  /**
   * Stops a server of the instance that the store holds no handle for (notebookd was killed
   * between launching it and recording its handle), as stop does. Optional; idempotent.
   */
  stopUnrecorded?(instanceId: string, graceMs: number): Promise<void>;
  poll(handle: RuntimeHandle): Promise<PollResult>;
  /** Removes the instance's storage and anything left of it. Idempotent. */
  destroy(instanceId: string): Promise<void>;
  /** Grows the instance's volume; may run while the instance runs. */
  resizeVolume?(instanceId: string, capacityGb: number): Promise<void>;
  /** What this runtime guarantees here (absent: none of RuntimeCapabilities). */
  capabilities?(): Promise<RuntimeCapabilities>;
  /** The last output of an instance's start hooks and of its server (at most maxBytes each); null when it has none. */
  logs?(instanceId: string, maxBytes: number): Promise<RuntimeLogs | null>;
  /**
   * Starts a process inside the instance's environment: its user, working directory (the
   * volume) and sandbox. The SSH gateway uses it for shells, exec and SFTP.
   */
  exec?(handle: RuntimeHandle, req: ExecRequest): Promise<ChildProcess>;
  /**
   * TCP ports the instance's own processes listen on (loopback or wildcard), for the SSH
   * gateway's port forwarding: it forwards to these and nothing else on the host.
   */
  listeningPorts?(handle: RuntimeHandle): Promise<number[]>;
  /**
   * Resource usage of the instance's processes now, for activity (CPU above a threshold) and
   * usage reporting; null when the instance is not running or cannot be measured.
   */
  sample?(handle: RuntimeHandle): Promise<RuntimeSample | null>;
  /**
   * The lease's stop time changed (null: auto-stop off). Runtimes with a time limit of their own
   * (a Slurm job's) mirror it as a backstop; notebookd's lease executor still stops the instance
   * at the exact time. Called by the reconciler's health step; cheap when nothing changed.
   */
  leaseChanged?(handle: RuntimeHandle, stopAt: number | null): Promise<void>;
  /** Releases what the runtime itself holds (not the instances: they survive a notebookd restart). */
  close?(): Promise<void>;
}
