// The Kubernetes objects of an instance, as pure functions of its spec and the runtime settings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HookSpec } from '../../src/domain/notebook.ts';
import {
  ipBlockOf,
  networkPolicyManifest,
  podTemplate,
  pvcManifest,
  resourceName,
  resourcesFor,
  secretManifest,
  serviceManifest,
  statefulSetManifest,
  targetOrigin,
} from '../../src/runtime/kubernetes/manifests.ts';
import type { KubernetesSettings } from '../../src/runtime/kubernetes/manifests.ts';
import type { InstanceSpec } from '../../src/runtime/runtime.ts';

const settings: KubernetesSettings = {
  namespace: 'notebooks',
  storageClass: 'fast-ssd',
  pythonPath: 'python3',
  gpuResource: 'nvidia.com/gpu',
  imagePullSecrets: [],
  allowFrom: [{ podLabels: { 'app.kubernetes.io/name': 'notebookd' }, namespaceLabels: { 'kubernetes.io/metadata.name': 'notebookd' } }],
  runAsUser: 1000,
};
const ID = '6f1c2b3a-1111-4222-8333-944455556666';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const spec = (over: Partial<InstanceSpec> = {}): InstanceSpec => ({
  instanceId: ID,
  basePath: `/nb/${ID}/`,
  jupyterToken: 'tok-0123456789abcdef',
  program: 'notebook',
  imageId: 'img-1',
  imageRef: 'swr.example.com/notebookd/jupyter-notebook:6.4',
  vcpus: 2,
  memoryMb: 8192,
  gpus: 0,
  capacityGb: 5,
  hooks: null,
  ...over,
});

describe('resourceName', () => {
  const cases: [string, string, RegExp | string][] = [
    ['a UUID stays readable', ID, `nb-${ID}`],
    ['upper case and odd characters are cleaned and hashed', 'My_Notebook.1', /^nb-my-notebook-1-[0-9a-f]{8}$/],
    ['a long id is cut to 52 characters with a hash', 'x'.repeat(120), /^nb-x{40}-[0-9a-f]{8}$/],
  ];
  for (const [name, id, expected] of cases) {
    it(name, () => {
      const got = resourceName(id);
      if (typeof expected === 'string') assert.equal(got, expected);
      else assert.match(got, expected);
      assert.ok(got.length <= 52 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(got), `${got} is a DNS-1123 label`);
    });
  }
  it('two ids that clean up alike still get different names', () => assert.notEqual(resourceName('A_b'), resourceName('a-b')));
});

describe('resourcesFor (flavor → requests/limits)', () => {
  const cases: [string, Parameters<typeof resourcesFor>[0], object][] = [
    ['2 vCPUs, 8 GB', { vcpus: 2, memoryMb: 8192, gpus: 0 }, { requests: { cpu: '2', memory: '8192Mi' }, limits: { cpu: '2', memory: '8192Mi' } }],
    ['half a vCPU as millicores', { vcpus: 0.5, memoryMb: 512 }, { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '500m', memory: '512Mi' } }],
    ['one GPU as a limit of the extended resource', { vcpus: 8, memoryMb: 32768, gpus: 1 }, { requests: { cpu: '8', memory: '32768Mi' }, limits: { cpu: '8', memory: '32768Mi', 'nvidia.com/gpu': '1' } }],
  ];
  for (const [name, flavor, expected] of cases) it(name, () => assert.deepEqual(resourcesFor(flavor, 'nvidia.com/gpu'), expected));
});

describe('the pod template', () => {
  it('runs the image with the local runtime’s Jupyter argv, reachable through the Service, the token from the Secret', () => {
    const t = podTemplate({ spec: spec(), nonce: 'n1', settings });
    const c = t.spec.containers[0];
    assert.equal(c.image, 'swr.example.com/notebookd/jupyter-notebook:6.4');
    assert.deepEqual(c.command.slice(0, 3), ['python3', '-m', 'notebook']);
    assert.ok(c.command.includes('--ip=0.0.0.0'));
    assert.ok(c.command.includes('--port=8888'));
    assert.ok(c.command.includes(`--NotebookApp.base_url=/nb/${ID}/`));
    assert.ok(c.command.includes('--NotebookApp.notebook_dir=/home/ma-user/work'));
    assert.ok(c.command.includes('--NotebookApp.allow_remote_access=True'));
    assert.deepEqual(c.env.find((e: { name: string }) => e.name === 'JUPYTER_TOKEN_FILE'), { name: 'JUPYTER_TOKEN_FILE', value: '/etc/notebookd/token' });
    assert.deepEqual(c.resources, { requests: { cpu: '2', memory: '8192Mi' }, limits: { cpu: '2', memory: '8192Mi' } });
    assert.ok(!JSON.stringify(t).includes('tok-0123456789abcdef'), 'the token is only in the Secret');
    assert.equal(t.metadata.annotations['notebookd.io/start-nonce'], 'n1');
    assert.equal(t.spec.automountServiceAccountToken, false);
    assert.deepEqual(t.spec.securityContext, { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, runAsNonRoot: true });
    assert.deepEqual(t.spec.volumes[0], { name: 'work', persistentVolumeClaim: { claimName: `nb-${ID}-volume` } });
    assert.equal(t.spec.initContainers, undefined);
    assert.equal(c.lifecycle, undefined);
  });

  it('jupyter_server images run the ServerApp', () => {
    const c = podTemplate({ spec: spec({ program: 'jupyter_server' }), nonce: 'n', settings }).spec.containers[0];
    assert.deepEqual(c.command.slice(0, 3), ['python3', '-m', 'jupyter_server']);
    assert.ok(c.command.includes('--ServerApp.root_dir=/home/ma-user/work'));
  });

  const block: HookSpec = { type: 'COMMAND', mode: 'BLOCK', script: b64('pip install -r requirements.txt') };
  const cases: [string, InstanceSpec['hooks'], (t: Record<string, any>) => void][] = [
    ['a BLOCK pre_start hook is an init container in the same image and volume', { preStart: block }, (t) => {
      assert.equal(t.spec.initContainers[0].name, 'pre-start');
      assert.equal(t.spec.initContainers[0].image, 'swr.example.com/notebookd/jupyter-notebook:6.4');
      assert.deepEqual(t.spec.initContainers[0].command, ['/bin/sh', '/etc/notebookd/pre-start.sh']);
      assert.equal(t.spec.initContainers[0].workingDir, '/home/ma-user/work');
    }],
    ['an ASYNC pre_start hook runs beside the server', { preStart: { ...block, mode: 'ASYNC' } }, (t) => {
      const c = t.spec.containers[0];
      assert.equal(c.command[0], '/bin/sh');
      assert.match(c.command[2], /'\/bin\/sh' '\/etc\/notebookd\/pre-start\.sh' >> \/var\/lib\/notebookd\/hooks\.log 2>&1 & exec "\$0" "\$@"/);
      assert.equal(c.command[3], 'python3');
      assert.equal(t.spec.initContainers, undefined);
    }],
    ['a post_start hook is a postStart handler', { postStart: { type: 'SCRIPT', mode: 'ASYNC', script: '/opt/post.sh' } }, (t) => {
      assert.deepEqual(t.spec.containers[0].lifecycle, { postStart: { exec: { command: ['/bin/sh', '/etc/notebookd/run-post-start.sh'] } } });
    }],
  ];
  for (const [name, hooks, check] of cases) it(name, () => check(podTemplate({ spec: spec({ hooks }), nonce: 'n', settings })));

  it('refuses an image without a container reference, and a relative SCRIPT hook', () => {
    assert.throws(() => podTemplate({ spec: spec({ imageRef: undefined }), nonce: 'n', settings }), /no container image reference \(swr_path\)/);
    assert.throws(() => podTemplate({ spec: spec({ hooks: { postStart: { type: 'SCRIPT', mode: 'ASYNC', script: 'post.sh' } } }), nonce: 'n', settings }), /must be absolute/);
  });
});

describe('the other objects', () => {
  it('StatefulSet: 0 or 1 replicas, its own Service name, a selector on the instance label', () => {
    const sts = statefulSetManifest({ spec: spec(), nonce: 'n', settings, replicas: 0 });
    assert.equal(sts.metadata.name, `nb-${ID}`);
    assert.equal(sts.metadata.namespace, 'notebooks');
    assert.equal(sts.spec.replicas, 0);
    assert.equal(sts.spec.serviceName, `nb-${ID}`);
    assert.deepEqual(sts.spec.selector, { matchLabels: { 'notebookd.io/instance': `nb-${ID}` } });
    assert.equal(sts.spec.template.metadata.labels['notebookd.io/instance'], `nb-${ID}`);
  });

  it('PVC: the capacity in Gi from the configured class; none named means the default class', () => {
    assert.deepEqual(pvcManifest(ID, 20, settings).spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } }, storageClassName: 'fast-ssd' });
    assert.equal(pvcManifest(ID, 5, { ...settings, storageClass: '' }).spec.storageClassName, undefined);
  });

  it('Secret: the token and the decoded hook scripts', () => {
    const s = secretManifest(ID, 'tok', { hooks: { preStart: { type: 'COMMAND', mode: 'BLOCK', script: b64('echo pre') }, postStart: { type: 'COMMAND', mode: 'ASYNC', script: b64('echo post') } } }, settings);
    assert.equal(s.metadata.name, `nb-${ID}-credential`);
    assert.equal(s.stringData.token, 'tok');
    assert.equal(s.stringData['pre-start.sh'], 'echo pre');
    assert.equal(s.stringData['post-start.sh'], 'echo post');
    assert.match(s.stringData['run-post-start.sh'], /create_connection\(\("127\.0\.0\.1", 8888\), 1\)/);
  });

  it('Service: port 8888 to the instance pod; the target is its cluster DNS name', () => {
    const svc = serviceManifest(ID, settings);
    assert.deepEqual(svc.spec.ports, [{ name: 'http', port: 8888, targetPort: 8888, protocol: 'TCP' }]);
    assert.equal(targetOrigin(ID, 'notebooks', 'svc.cluster.local'), `http://nb-${ID}.notebooks.svc.cluster.local:8888`);
  });

  const policies: [string, string[], KubernetesSettings['allowFrom'], unknown][] = [
    ['no peer at all admits nobody', [], [], []],
    [
      'notebookd by labels plus the allow-list as ipBlocks',
      ['203.0.113.7', '10.0.0.0/8', '2001:db8::1'],
      settings.allowFrom,
      [{
        from: [
          { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'notebookd' } }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'notebookd' } } },
          { ipBlock: { cidr: '203.0.113.7/32' } },
          { ipBlock: { cidr: '10.0.0.0/8' } },
          { ipBlock: { cidr: '2001:db8::1/128' } },
        ],
        ports: [{ port: 8888, protocol: 'TCP' }],
      }],
    ],
    ['notebookd by CIDR', [], [{ cidr: '192.168.10.0/24' }], [{ from: [{ ipBlock: { cidr: '192.168.10.0/24' } }], ports: [{ port: 8888, protocol: 'TCP' }] }]],
  ];
  for (const [name, ips, allowFrom, ingress] of policies) {
    it(`NetworkPolicy: ${name}`, () => {
      const np = networkPolicyManifest(ID, ips, { ...settings, allowFrom });
      assert.deepEqual(np.spec.policyTypes, ['Ingress']);
      assert.deepEqual(np.spec.podSelector, { matchLabels: { 'notebookd.io/instance': `nb-${ID}` } });
      assert.deepEqual(np.spec.ingress, ingress);
    });
  }
  it('ipBlockOf', () => {
    assert.equal(ipBlockOf('1.2.3.4'), '1.2.3.4/32');
    assert.equal(ipBlockOf('::1'), '::1/128');
    assert.equal(ipBlockOf('1.2.0.0/16'), '1.2.0.0/16');
  });
});
