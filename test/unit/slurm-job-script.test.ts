// The Slurm job of an instance as text: sbatch arguments from the flavor, and the batch script
// (checked by bash itself for syntax, and for what it must and must not contain).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { HookSpec } from '../../src/domain/notebook.ts';
import { instancePaths } from '../../src/runtime/local/layout.ts';
import { buildJobScript, hookFiles, resourceArgs, sbatchArgs, sq } from '../../src/runtime/slurm/job-script.ts';
import type { JobScriptInput } from '../../src/runtime/slurm/job-script.ts';

const paths = instancePaths('/shared/nbd', 'inst-1');
const b64 = (s: string) => Buffer.from(s).toString('base64');
const input = (over: Partial<JobScriptInput> = {}): JobScriptInput => ({
  instanceId: 'inst-1',
  nonce: '0123456789abcdef',
  paths,
  program: 'notebook',
  basePath: '/nb/inst-1/',
  pythonPath: '/usr/bin/python3',
  listenHost: '0.0.0.0',
  connectHost: '',
  hostEnv: { LANG: 'C.UTF-8', DATABASE_URL: 'postgres://secret' },
  postStartWaitMs: 60_000,
  ...over,
});
const bashSyntaxOk = (script: string) => spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });

describe('resourceArgs / sbatchArgs', () => {
  const cases: [string, Parameters<typeof resourceArgs>[0], string[]][] = [
    ['a CPU flavor', { vcpus: 2, memoryMb: 8192, gpus: 0 }, ['--nodes=1', '--ntasks=1', '--cpus-per-task=2', '--mem=8192M']],
    ['fractional vCPUs round up', { vcpus: 0.5, memoryMb: 1024, gpus: 0 }, ['--nodes=1', '--ntasks=1', '--cpus-per-task=1', '--mem=1024M']],
    [
      'a GPU flavor in a partition, account and QOS, with extra arguments',
      { vcpus: 8, memoryMb: 32768, gpus: 1, partition: 'gpu', account: 'ml', qos: 'interactive', extraArgs: ['--constraint=t4'] },
      ['--nodes=1', '--ntasks=1', '--cpus-per-task=8', '--mem=32768M', '--gpus=1', '--partition=gpu', '--account=ml', '--qos=interactive', '--constraint=t4'],
    ],
  ];
  for (const [name, r, args] of cases) it(name, () => assert.deepEqual(resourceArgs(r), args));

  it('names the job after the instance, tags it with the nonce, never requeues and exports nothing', () => {
    const args = sbatchArgs({ vcpus: 1, memoryMb: 512, gpus: 0, instanceId: 'inst-1', nonce: 'abcd', paths, scriptPath: '/shared/nbd/instances/inst-1/job.sh', timeLimitMin: 64 });
    assert.deepEqual(args.slice(0, 9), [
      '--parsable',
      '--job-name=nbd-inst-1',
      '--comment=notebookd:inst-1:abcd',
      '--output=/shared/nbd/instances/inst-1/slurm-%j.out',
      '--open-mode=append',
      '--chdir=/shared/nbd/instances/inst-1',
      '--no-requeue',
      '--export=NONE',
      '--time=64',
    ]);
    assert.equal(args.at(-1), '/shared/nbd/instances/inst-1/job.sh');
    const unlimited = sbatchArgs({ vcpus: 1, memoryMb: 512, gpus: 0, instanceId: 'inst-1', nonce: 'abcd', paths, scriptPath: 'x', timeLimitMin: null });
    assert.ok(!unlimited.some((a) => a.startsWith('--time')));
  });
});

describe('buildJobScript', () => {
  it('is valid bash that starts the image program with only the instance environment', () => {
    const script = buildJobScript(input());
    assert.equal(bashSyntaxOk(script).status, 0, bashSyntaxOk(script).stderr);
    assert.match(script, /^#!\/bin\/bash\n/);
    assert.match(script, /env -i "\$\{envs\[@\]\}" "\$python" '-m' 'notebook' .*--port="\$port"/);
    assert.match(script, /'--NotebookApp\.base_url=\/nb\/inst-1\/'/);
    assert.match(script, /JUPYTER_TOKEN_FILE=\/shared\/nbd\/instances\/inst-1\/token/);
    assert.doesNotMatch(script, /postgres:\/\/secret/, "notebookd's environment stays out");
    assert.match(script, /record connection\.json/);
    assert.match(script, /finish server "\$rc"/);
  });

  it('allows remote Host headers only when Jupyter listens beyond loopback', () => {
    assert.match(buildJobScript(input({ listenHost: '0.0.0.0' })), /allow_remote_access=True/);
    assert.match(buildJobScript(input({ listenHost: '127.0.0.1' })), /allow_remote_access=False/);
  });

  it('a BLOCK pre_start hook ends the job on failure; ASYNC runs in the background; post_start waits for the port', () => {
    const block: HookSpec = { type: 'COMMAND', mode: 'BLOCK', script: b64('exit 3') };
    const script = buildJobScript(input({ preStart: block, postStart: { type: 'SCRIPT', mode: 'ASYNC', script: '/opt/hooks/post.sh' } }));
    assert.equal(bashSyntaxOk(script).status, 0, bashSyntaxOk(script).stderr);
    assert.match(script, /hook pre_start 'pre_start hook \(COMMAND, BLOCK\)' \/bin\/sh '\/shared\/nbd\/instances\/inst-1\/pre-start\.sh' \|\| finish pre_start \$\?/);
    assert.match(script, /\/dev\/tcp\/\$probe\/\$port/);
    assert.match(script, /'\/opt\/hooks\/post\.sh'/);
    const asyncScript = buildJobScript(input({ preStart: { ...block, mode: 'ASYNC' } }));
    assert.match(asyncScript, /pre-start\.sh' &\n/);
  });

  it('hookFiles decodes COMMAND hooks and refuses a relative SCRIPT path', () => {
    assert.deepEqual(hookFiles({ paths, preStart: { type: 'COMMAND', mode: 'BLOCK', script: b64('echo hi') } }), [
      { path: '/shared/nbd/instances/inst-1/pre-start.sh', content: 'echo hi' },
    ]);
    assert.throws(() => hookFiles({ paths, postStart: { type: 'SCRIPT', mode: 'ASYNC', script: 'hooks/post.sh' } }), /must be absolute/);
  });

  it('sq quotes anything for the shell', () => {
    const nasty = `it's "$(rm -rf /)" \`x\``;
    const r = spawnSync('bash', ['-c', `printf %s ${sq(nasty)}`], { encoding: 'utf8' });
    assert.equal(r.stdout, nasty);
  });
});
