// The notebook record as the core sees it: spec (what the user asked for) apart from status
// (what was observed). Times are epoch ms; the API layer converts to wire formats.
import type { NotebookStatus } from './lifecycle.ts';

export type Desired = 'running' | 'stopped' | 'deleted';
export type LeaseType = 'TIMING' | 'IDLE';
export type StopReason = 'user' | 'lease_expired' | 'idle' | 'admin' | 'runtime_lost' | 'error';
export type Operation = 'create' | 'start' | 'stop' | 'delete';
export type ServiceKind = 'NOTEBOOK' | 'SSH';
export type HookType = 'COMMAND' | 'SCRIPT';
export type HookMode = 'BLOCK' | 'ASYNC';

export interface HookSpec {
  script: string;
  type: HookType;
  mode: HookMode;
}

export interface HooksSpec {
  preStart?: HookSpec;
  postStart?: HookSpec;
}

export interface EndpointSpec {
  service: ServiceKind;
  keyPairNames: string[];
  allowedAccessIps: string[];
}

export interface VolumeSpec {
  category: 'EVS' | 'EFS' | 'SFS' | 'OBS' | 'OBSFS';
  ownership: 'MANAGED' | 'DEDICATED';
  capacityGb: number;
  mountPath: string;
  readOnly: boolean;
  uri?: string;
  id?: string;
  /** Observed: IN_USE normally, RESIZING while a grow is under way. */
  status: 'IN_USE' | 'RESIZING' | 'MOUNTED';
  /** A grow the runtime has not applied yet (storage_new_size while RUNNING). */
  pendingCapacityGb?: number;
}

export interface Lease {
  /** Fixed when the instance is created; the anchor for `durationMs`. */
  createAt: number;
  /** Counted from createAt: the predicted stop time is createAt + durationMs. */
  durationMs: number;
  /** What the user asked for: the TIMING length or the IDLE timeout. */
  requestedMs: number;
  type: LeaseType;
  enable: boolean;
  updateAt: number;
  lastActivityAt: number | null;
  lastActivitySource: string | null;
  /** Set once the lease.expiring warning for the current deadline has been issued. */
  warnedFor: number | null;
  // The flavor policy's terms, kept for the run (taken at create and start). Absent in records
  // written before they existed: no warning, no cap.
  /** How long before the stop time the lease.expiring warning is issued (0: none). */
  warningLeadMs?: number;
  /** Hard cap on one run's length, or null. */
  maxRunningMs?: number | null;
  /** This run's cap: the stop time never passes it. null: no cap. */
  capAt?: number | null;
}

export type ProgressStatus = 'WAITING' | 'PROCESSING' | 'FAILED' | 'COMPLETED';
export interface ProgressStep {
  step: 1 | 2 | 3 | 4;
  status: ProgressStatus;
  description: string;
}

export interface Owner {
  id: string;
  name: string;
  domainId: string;
  domainName: string;
}

export interface Tag {
  key: string;
  value: string;
}

/** Where the runtime's Jupyter server answers; the proxy and the readiness probe use it. */
export interface RuntimeTarget {
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  /** The Jupyter base path, e.g. /nb/<id>/ */
  basePath: string;
  /** Internal Jupyter credential; never leaves notebookd. */
  jupyterToken: string;
}

export interface Notebook {
  id: string;
  projectId: string;
  owner: Owner;
  name: string;
  description: string;
  feature: 'DEFAULT' | 'NOTEBOOK';
  flavorId: string;
  imageId: string;
  workspaceId: string;
  poolId: string | null;
  volume: VolumeSpec;
  endpoints: EndpointSpec[];
  hooks: HooksSpec | null;
  tags: Tag[];

  desired: Desired;
  status: NotebookStatus;
  /** The user operation currently being carried out, for the 6357/6306/6308 answers. */
  operation: Operation | null;
  statusChangedAt: number;
  failReason: string | null;
  stopReason: StopReason | null;
  actionProgress: ProgressStep[];
  /** The user-facing instance token; a new one on every start. */
  token: string | null;
  lease: Lease;
  /** Opaque runtime state kept so that a restarted notebookd adopts what still runs. */
  runtimeHandle: unknown;
  runtimeTarget: RuntimeTarget | null;

  createAt: number;
  updateAt: number;
  version: number;
}

export interface NotebookEvent {
  id?: number;
  notebookId: string;
  at: number;
  type: string;
  message: string;
  data?: Record<string, unknown>;
}
