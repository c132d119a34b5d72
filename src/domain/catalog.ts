// Flavors and images: what an instance may be made of.

export interface Flavor {
  id: string;
  name: string;
  category: 'CPU' | 'GPU' | 'ASCEND';
  arch: 'x86_64' | 'aarch64';
  feature: 'DEFAULT' | 'NOTEBOOK';
  description: string;
  free: boolean;
  soldOut: boolean;
  vcpus: number;
  memoryMb: number;
  gpus: number;
  gpuType: string | null;
  /** Largest EVS volume this flavor allows, in GB. */
  evsMaxSizeGb: number;
}

/** How the local runtime starts the image's Jupyter server. */
export type ImageProgram = 'notebook' | 'jupyter_server';

export type ImageStatus = 'INIT' | 'CREATING' | 'CREATE_FAILED' | 'ERROR' | 'DELETED' | 'ACTIVE';

export interface Image {
  id: string;
  /** null for built-in images, visible to every project. */
  projectId: string | null;
  name: string;
  namespace: string;
  tag: string;
  swrPath: string;
  description: string;
  arch: 'x86_64' | 'aarch64';
  origin: 'CUSTOMIZE' | 'IMAGE_SAVE';
  type: 'BUILD_IN' | 'DEDICATED';
  visibility: 'PRIVATE' | 'PUBLIC' | 'HIDDEN';
  serviceType: string;
  devServices: string[];
  resourceCategories: string[];
  workspaceId: string;
  status: ImageStatus;
  statusMessage: string;
  program: ImageProgram;
  tags: string[];
  readMe: string;
  sizeBytes: number;
  createAt: number;
  updateAt: number;
}

/** Switchable flavors: same category, architecture and feature, not sold out, not the current one. */
export function switchableFlavors(current: Flavor, all: readonly Flavor[]): Flavor[] {
  return all.filter(
    (f) => f.id !== current.id && f.category === current.category && f.arch === current.arch && f.feature === current.feature && !f.soldOut,
  );
}
