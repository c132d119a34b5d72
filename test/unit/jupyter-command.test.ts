// The local runtime's pure parts: the Jupyter command line and environment, the layout, spec
// checks, hook decoding and /proc parsing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCommandScript } from '../../src/runtime/local/hooks.ts';
import {
  buildJupyterLaunch,
  instanceEnv,
  missingProgramMessage,
  SANDBOX_PATH,
  specProblem,
} from '../../src/runtime/local/jupyter-command.ts';
import { assertInstanceId, instancePaths } from '../../src/runtime/local/layout.ts';
import { parseProcStat } from '../../src/runtime/local/process-identity.ts';

const paths = instancePaths('/srv/nb', 'inst-1');
const hostEnv = {
  PATH: '/root/.pyenv/shims:/usr/bin',
  LANG: 'en_US.UTF-8',
  TZ: 'Europe/Paris',
  DATABASE_URL: 'postgres://app:secret@db/nb',
  JUPYTER_TOKEN: 'from-the-host',
  PYTHONPATH: '/opt/elsewhere',
};

describe('instancePaths', () => {
  it('puts the volume under volumes/<id> and the run state under instances/<id>', () => {
    assert.deepEqual(paths, {
      volumeDir: '/srv/nb/volumes/inst-1',
      instanceDir: '/srv/nb/instances/inst-1',
      runtimeDir: '/srv/nb/instances/inst-1/runtime',
      configDir: '/srv/nb/instances/inst-1/config',
      jupyterDataDir: '/srv/nb/instances/inst-1/data',
      ipythonDir: '/srv/nb/instances/inst-1/ipython',
      jupyterLog: '/srv/nb/instances/inst-1/jupyter.log',
      hooksLog: '/srv/nb/instances/inst-1/hooks.log',
      portFile: '/srv/nb/instances/inst-1/port',
      serverFile: '/srv/nb/instances/inst-1/server.json',
      tokenFile: '/srv/nb/instances/inst-1/token',
      volumeFile: '/srv/nb/instances/inst-1/volume.json',
      hookPidsFile: '/srv/nb/instances/inst-1/hook-pids.json',
    });
  });

  for (const bad of ['', '..', '../x', 'a/b', '.hidden', 'a..b', 'x'.repeat(129), 'spaced id']) {
    it(`refuses the instance id ${JSON.stringify(bad.slice(0, 20))}`, () => {
      assert.throws(() => assertInstanceId(bad), /invalid instance id/);
    });
  }
  for (const good of ['a', 'f4c3-9e2a_1.x', '0123456789abcdef']) {
    it(`accepts the instance id ${good}`, () => assertInstanceId(good));
  }
});

describe('buildJupyterLaunch', () => {
  const base = { pythonPath: '/usr/bin/python3', host: '127.0.0.1', port: 41234, basePath: '/nb/inst-1/', paths, hostEnv };

  it('runs classic notebook with its options under NotebookApp', () => {
    const launch = buildJupyterLaunch({ ...base, program: 'notebook' });
    assert.equal(launch.command, '/usr/bin/python3');
    assert.deepEqual(launch.args, [
      '-m',
      'notebook',
      '--no-browser',
      '--ip=127.0.0.1',
      '--port=41234',
      '--port-retries=0',
      '--allow-root',
      '--NotebookApp.base_url=/nb/inst-1/',
      '--NotebookApp.notebook_dir=/srv/nb/volumes/inst-1',
      '--NotebookApp.allow_remote_access=False',
    ]);
    assert.equal(launch.cwd, '/srv/nb/volumes/inst-1');
  });

  it('runs jupyter_server with its options under ServerApp', () => {
    const launch = buildJupyterLaunch({ ...base, program: 'jupyter_server' });
    assert.deepEqual(launch.args.slice(0, 2), ['-m', 'jupyter_server']);
    assert.ok(launch.args.includes('--ServerApp.base_url=/nb/inst-1/'));
    assert.ok(launch.args.includes('--ServerApp.root_dir=/srv/nb/volumes/inst-1'));
    assert.ok(launch.args.includes('--ServerApp.allow_remote_access=False'));
    assert.ok(!launch.args.some((a) => a.includes('xsrf')), 'XSRF protection stays on');
  });

  it('gives the token only as a file and keeps the host environment out', () => {
    const { env } = buildJupyterLaunch({ ...base, program: 'notebook' });
    assert.deepEqual(env, {
      LANG: 'en_US.UTF-8',
      TZ: 'Europe/Paris',
      PATH: SANDBOX_PATH,
      HOME: '/srv/nb/volumes/inst-1',
      SHELL: '/bin/bash',
      JUPYTER_RUNTIME_DIR: '/srv/nb/instances/inst-1/runtime',
      JUPYTER_CONFIG_DIR: '/srv/nb/instances/inst-1/config',
      JUPYTER_DATA_DIR: '/srv/nb/instances/inst-1/data',
      IPYTHONDIR: '/srv/nb/instances/inst-1/ipython',
      PYDEVD_DISABLE_FILE_VALIDATION: '1',
      PYTHONUNBUFFERED: '1',
      JUPYTER_TOKEN_FILE: '/srv/nb/instances/inst-1/token',
    });
  });

  it('defaults LANG to C.UTF-8; hooks get the same environment without the token file', () => {
    const env = instanceEnv(paths, {});
    assert.equal(env.LANG, 'C.UTF-8');
    assert.equal(env.JUPYTER_TOKEN_FILE, undefined);
    assert.equal(env.HOME, paths.volumeDir);
  });
});

describe('missingProgramMessage', () => {
  it('says what is missing, then how to install it', () => {
    assert.equal(
      missingProgramMessage('notebook'),
      'Jupyter Notebook is not installed on this host; install it with: apt-get install jupyter-notebook python3-ipykernel',
    );
    assert.equal(
      missingProgramMessage('jupyter_server', "No module named 'jupyter_server'"),
      "Jupyter Server is not installed on this host (No module named 'jupyter_server'); install it with: apt-get install python3-jupyter-server python3-ipykernel",
    );
  });
});

describe('specProblem', () => {
  const token = 'a'.repeat(32);
  const table: [string, { basePath: string; jupyterToken: string }, RegExp | null][] = [
    ['a normal spec', { basePath: '/nb/inst-1/', jupyterToken: token }, null],
    ['the root base path', { basePath: '/', jupyterToken: token }, null],
    ['no trailing slash', { basePath: '/nb/inst-1', jupyterToken: token }, /basePath/],
    ['no leading slash', { basePath: 'nb/inst-1/', jupyterToken: token }, /basePath/],
    ['a query in the base path', { basePath: '/nb/x?y/', jupyterToken: token }, /basePath/],
    ['an empty token (would switch auth off)', { basePath: '/nb/a/', jupyterToken: '' }, /jupyterToken/],
    ['a short token', { basePath: '/nb/a/', jupyterToken: 'abc' }, /jupyterToken/],
    ['a token with a newline', { basePath: '/nb/a/', jupyterToken: `${token}\n` }, /jupyterToken/],
  ];
  for (const [name, spec, expected] of table) {
    it(name, () => {
      const problem = specProblem(spec);
      if (expected) assert.match(problem ?? '', expected);
      else assert.equal(problem, null);
    });
  }
});

describe('decodeCommandScript', () => {
  it('decodes base64 (standard or url-safe, wrapped lines)', () => {
    assert.equal(decodeCommandScript(Buffer.from('echo hi > a.txt\n').toString('base64')), 'echo hi > a.txt\n');
    assert.equal(decodeCommandScript('ZWNobyBo\naQ=='), 'echo hi');
    assert.equal(decodeCommandScript(Buffer.from('ls ~?').toString('base64url')), 'ls ~?');
  });
  it('refuses what is not base64 or decodes to nothing', () => {
    assert.throws(() => decodeCommandScript('echo "hi" > a.txt'), /base64/);
    assert.throws(() => decodeCommandScript('abcde'), /base64/, 'a length of 4n+1 is never base64');
    assert.throws(() => decodeCommandScript(''), /base64/);
  });
});

describe('parseProcStat', () => {
  it('reads state, ids and the start time (field 22), even when the command name holds ") ("', () => {
    const line = '4242 (weird) (name) S 1 4242 4242 0 -1 4194560 1 0 0 0 5 3 0 0 20 0 1 0 987654 1000 10 18446744073709551615';
    assert.deepEqual(parseProcStat(line), { pid: 4242, state: 'S', ppid: 1, pgid: 4242, sid: 4242, startTime: 987654 });
  });
  it('returns null for garbage', () => {
    assert.equal(parseProcStat('nonsense'), null);
  });
});
