// The built-in flavor and image catalogs. An operator replaces them through the config file.
import type { Flavor, Image } from '../domain/catalog.ts';

const cpuFlavor = (id: string, vcpus: number, memoryGb: number, extra: Partial<Flavor> = {}): Flavor => ({
  id,
  name: `CPU: ${vcpus} vCPUs ${memoryGb} GB`,
  category: 'CPU',
  arch: 'x86_64',
  feature: 'NOTEBOOK',
  description: `General-purpose CPU instance: ${vcpus} vCPUs, ${memoryGb} GB memory.`,
  free: false,
  soldOut: false,
  vcpus,
  memoryMb: memoryGb * 1024,
  gpus: 0,
  gpuType: null,
  evsMaxSizeGb: 4096,
  ...extra,
});

export const DEFAULT_FLAVORS: readonly Flavor[] = [
  cpuFlavor('modelarts.vm.cpu.free', 1, 4, { feature: 'DEFAULT', free: true, description: 'Free CodeLab instance: 1 vCPU, 4 GB.', evsMaxSizeGb: 5 }),
  cpuFlavor('modelarts.vm.cpu.2u', 2, 8),
  cpuFlavor('modelarts.vm.cpu.4u', 4, 16),
  cpuFlavor('modelarts.vm.cpu.8u', 8, 32),
  {
    ...cpuFlavor('modelarts.vm.gpu.t4', 8, 32),
    name: 'GPU: 1*T4(16GB) | CPU: 8 vCPUs 32 GB',
    category: 'GPU',
    gpus: 1,
    gpuType: 'T4',
    description: 'One NVIDIA T4; sold out on hosts without GPUs.',
    soldOut: true,
  },
];

const builtInImage = (id: string, name: string, tag: string, program: Image['program'], description: string): Image => ({
  id,
  projectId: null,
  name,
  namespace: 'notebookd',
  tag,
  swrPath: `notebookd/${name}:${tag}`,
  description,
  arch: 'x86_64',
  origin: 'CUSTOMIZE',
  type: 'BUILD_IN',
  visibility: 'PUBLIC',
  serviceType: 'DEV',
  devServices: ['NOTEBOOK', 'SSH'],
  resourceCategories: ['CPU', 'GPU'],
  workspaceId: '0',
  status: 'ACTIVE',
  statusMessage: '',
  program,
  tags: [],
  readMe: '',
  sizeBytes: 0,
  createAt: Date.UTC(2026, 0, 1),
  updateAt: Date.UTC(2026, 0, 1),
});

export const DEFAULT_IMAGES: readonly Image[] = [
  builtInImage(
    '5b1f7c1e-8a7d-4c1e-9d2a-000000000001',
    'jupyter-notebook',
    '6.4',
    'notebook',
    'Classic Jupyter Notebook UI with the Python 3 kernel (Debian jupyter-notebook).',
  ),
  builtInImage(
    '5b1f7c1e-8a7d-4c1e-9d2a-000000000002',
    'jupyter-server',
    '1.23',
    'jupyter_server',
    'Headless Jupyter Server (REST and kernels only) with the Python 3 kernel (Debian python3-jupyter-server).',
  ),
];
