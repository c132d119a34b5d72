// Field rules of CreateNotebook/UpdateNotebook (reference §1.1, §1.3, §6.3). Every refusal is a
// DomainError with the documented ModelArts code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DESCRIPTION_MAX,
  EVS_MAX_GB,
  expectEnum,
  isAddressOrCidr,
  MAX_ALLOWED_IPS,
  NAME_MAX,
  validateCapacity,
  validateDescription,
  validateEndpoints,
  validateHooks,
  validateName,
  validateTags,
} from '../../src/domain/validation.ts';

/** What assert.throws checks for a domain refusal. */
const refused = (code: string, message?: RegExp) => ({ name: 'DomainError', code: `ModelArts.${code}`, ...(message && { message }) });

const base64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('limits', () => {
  it('are the documented ones', () => {
    assert.equal(NAME_MAX, 128);
    assert.equal(DESCRIPTION_MAX, 512);
    assert.equal(MAX_ALLOWED_IPS, 5);
    assert.equal(EVS_MAX_GB, 4096);
  });
});

describe('validateName', () => {
  for (const name of ['a', 'notebook-1', 'my_nb', 'ABC-def_123', '-', 'x'.repeat(128)]) {
    it(`accepts ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}…(${name.length})` : name)}`, () => {
      assert.equal(validateName(name), name);
    });
  }

  const lengths: { name: string; value: string }[] = [
    { name: 'empty', value: '' },
    { name: '129 characters', value: 'x'.repeat(129) },
  ];
  for (const c of lengths) {
    it(`refuses ${c.name} with ModelArts.6336`, () => {
      assert.throws(() => validateName(c.value), refused('6336', /'name' property value is incorrect\. The name must be 1 to 128 characters\./));
    });
  }

  const badCharacters: { value: string; bad: string }[] = [
    { value: 'my notebook', bad: ' ' },
    { value: 'nb.1', bad: '.' },
    { value: 'team/nb', bad: '/' },
    { value: 'a$b!', bad: '$' },
    { value: '笔记本', bad: '笔' },
    { value: 'nb😀', bad: '😀' },
    { value: 'tab\there', bad: '\t' },
  ];
  for (const c of badCharacters) {
    it(`refuses ${JSON.stringify(c.value)} with ModelArts.6334 naming ${JSON.stringify(c.bad)}`, () => {
      assert.throws(() => validateName(c.value), {
        ...refused('6334'),
        message: `Invalid value for name or description. The character \`${c.bad}\` is not allowed.`,
      });
    });
  }

  for (const value of [42, null, undefined, ['nb'], { name: 'nb' }]) {
    it(`refuses the non-string ${JSON.stringify(value)} with ModelArts.6332`, () => {
      assert.throws(() => validateName(value), refused('6332', /The 'name' parameter must be of the 'string' type/));
    });
  }
});

describe('validateDescription', () => {
  for (const value of ['', 'api-test', 'Team notebook, for (experiments) only! #1 @ 50% ~ ok?', '中文描述', 'd'.repeat(512)]) {
    it(`accepts ${JSON.stringify(value.length > 20 ? `${value.slice(0, 8)}…(${value.length})` : value)}`, () => {
      assert.equal(validateDescription(value), value);
    });
  }

  it('refuses 513 characters with ModelArts.6336', () => {
    assert.throws(() => validateDescription('d'.repeat(513)), refused('6336', /at most 512 characters/));
  });

  for (const bad of ['&', '<', '>', '"', "'", '/']) {
    it(`refuses ${JSON.stringify(bad)} with ModelArts.6334 naming it`, () => {
      assert.throws(() => validateDescription(`before ${bad} after`), {
        ...refused('6334'),
        message: `Invalid value for name or description. The character \`${bad}\` is not allowed.`,
      });
    });
  }

  it('refuses a non-string with ModelArts.6332', () => {
    assert.throws(() => validateDescription(7), refused('6332'));
  });
});

describe('isAddressOrCidr', () => {
  const table: { value: string; valid: boolean }[] = [
    { value: '203.0.113.7', valid: true },
    { value: '127.0.0.1', valid: true },
    { value: '10.0.0.0/8', valid: true },
    { value: '192.168.1.0/24', valid: true },
    { value: '0.0.0.0/0', valid: true },
    { value: '203.0.113.7/32', valid: true },
    { value: '2001:db8::1', valid: true },
    { value: '::1', valid: true },
    { value: '2001:db8::/32', valid: true },
    { value: '::1/128', valid: true },
    { value: '::ffff:203.0.113.7', valid: true },
    { value: '', valid: false },
    { value: '203.0.113', valid: false },
    { value: '256.0.0.1', valid: false },
    { value: '010.0.0.1', valid: false },
    { value: 'a.b.c.d', valid: false },
    { value: 'example.com', valid: false },
    { value: '10.0.0.0/33', valid: false },
    { value: '10.0.0.0/', valid: false },
    { value: '10.0.0.0/-1', valid: false },
    { value: '10.0.0.0/abc', valid: false },
    { value: '10.0.0.0/8/8', valid: false },
    { value: '/8', valid: false },
    { value: '2001:db8::/129', valid: false },
    { value: '2001:db8:::1', valid: false },
    { value: 'gggg::1', valid: false },
  ];
  for (const c of table) {
    it(`${JSON.stringify(c.value)} is ${c.valid ? 'valid' : 'invalid'}`, () => {
      assert.equal(isAddressOrCidr(c.value), c.valid);
    });
  }
});

describe('validateEndpoints', () => {
  it('accepts no endpoints', () => {
    assert.deepEqual(validateEndpoints([]), []);
  });

  const accepted: { name: string; input: unknown; expected: unknown }[] = [
    {
      name: 'a bare NOTEBOOK endpoint',
      input: [{ service: 'NOTEBOOK' }],
      expected: [{ service: 'NOTEBOOK', keyPairNames: [], allowedAccessIps: [] }],
    },
    {
      name: 'service in lower case',
      input: [{ service: 'ssh', key_pair_names: ['my-key'] }],
      expected: [{ service: 'SSH', keyPairNames: ['my-key'], allowedAccessIps: [] }],
    },
    {
      name: 'dev_service as the service field',
      input: [{ dev_service: 'SSH', key_pair_names: ['k1'] }],
      expected: [{ service: 'SSH', keyPairNames: ['k1'], allowedAccessIps: [] }],
    },
    {
      name: 'no service: NOTEBOOK',
      input: [{ allowed_access_ips: ['203.0.113.7'] }],
      expected: [{ service: 'NOTEBOOK', keyPairNames: [], allowedAccessIps: ['203.0.113.7'] }],
    },
    {
      name: 'null lists as empty',
      input: [{ service: 'SSH', key_pair_names: null, allowed_access_ips: null }],
      expected: [{ service: 'SSH', keyPairNames: [], allowedAccessIps: [] }],
    },
    {
      name: 'one NOTEBOOK and one SSH endpoint, five addresses, surrounding spaces trimmed',
      input: [
        { service: 'NOTEBOOK' },
        {
          service: 'SSH',
          key_pair_names: ['key_1.pub', 'KeyPair-2'],
          allowed_access_ips: [' 203.0.113.7 ', '10.0.0.0/8', '2001:db8::1', '2001:db8::/32', '192.168.0.1'],
        },
      ],
      expected: [
        { service: 'NOTEBOOK', keyPairNames: [], allowedAccessIps: [] },
        {
          service: 'SSH',
          keyPairNames: ['key_1.pub', 'KeyPair-2'],
          allowedAccessIps: ['203.0.113.7', '10.0.0.0/8', '2001:db8::1', '2001:db8::/32', '192.168.0.1'],
        },
      ],
    },
  ];
  for (const c of accepted) {
    it(`accepts ${c.name}`, () => {
      assert.deepEqual(validateEndpoints(c.input), c.expected);
    });
  }

  const refusals: { name: string; input: unknown; code: string; message?: RegExp }[] = [
    { name: 'not an array', input: { service: 'SSH' }, code: '6332' },
    { name: 'an entry that is not an object', input: ['SSH'], code: '6332' },
    { name: 'an unknown service', input: [{ service: 'HTTP' }], code: '6336', message: /Allowed values: NOTEBOOK, SSH/ },
    { name: 'the same service twice', input: [{ service: 'SSH' }, { service: 'ssh' }], code: '6336', message: /SSH endpoint is listed twice/ },
    { name: 'three endpoints', input: [{ service: 'NOTEBOOK' }, { service: 'SSH' }, { service: 'SSH' }], code: '6336' },
    {
      name: 'six addresses',
      input: [{ service: 'SSH', allowed_access_ips: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'] }],
      code: '6336',
      message: /At most 5 addresses/,
    },
    { name: 'an invalid address', input: [{ service: 'SSH', allowed_access_ips: ['10.0.0.0/33'] }], code: '6336', message: /'10\.0\.0\.0\/33' is not an IP address or CIDR block/ },
    { name: 'a host name', input: [{ service: 'SSH', allowed_access_ips: ['example.com'] }], code: '6336' },
    { name: 'a repeated address', input: [{ service: 'SSH', allowed_access_ips: ['10.0.0.1', '10.0.0.1'] }], code: '6336', message: /must not repeat/ },
    { name: 'a non-string address', input: [{ service: 'SSH', allowed_access_ips: [167772161] }], code: '6332' },
    { name: 'addresses not in a list', input: [{ service: 'SSH', allowed_access_ips: '10.0.0.1' }], code: '6332' },
    { name: 'an empty key pair name', input: [{ service: 'SSH', key_pair_names: [''] }], code: '6336' },
    { name: 'a key pair name with a space', input: [{ service: 'SSH', key_pair_names: ['my key'] }], code: '6336' },
    { name: 'a key pair name of 65 characters', input: [{ service: 'SSH', key_pair_names: ['k'.repeat(65)] }], code: '6336' },
    { name: 'a key pair name with a slash', input: [{ service: 'SSH', key_pair_names: ['../key'] }], code: '6336' },
    { name: 'a non-string key pair name', input: [{ service: 'SSH', key_pair_names: [1] }], code: '6332' },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} with ModelArts.${c.code}`, () => {
      assert.throws(() => validateEndpoints(c.input), refused(c.code, c.message));
    });
  }

  it('accepts a key pair name of 64 characters', () => {
    assert.deepEqual(validateEndpoints([{ service: 'SSH', key_pair_names: ['k'.repeat(64)] }])[0]?.keyPairNames, ['k'.repeat(64)]);
  });
});

describe('validateHooks', () => {
  const empty: { name: string; input: unknown }[] = [
    { name: 'null', input: null },
    { name: 'no container_hooks', input: {} },
    { name: 'container_hooks null', input: { container_hooks: null } },
    { name: 'container_hooks without hooks', input: { container_hooks: {} } },
    { name: 'both hooks null', input: { container_hooks: { pre_start: null, post_start: null } } },
  ];
  for (const c of empty) {
    it(`${c.name} → no hooks`, () => assert.equal(validateHooks(c.input), null));
  }

  const accepted: { name: string; input: unknown; expected: unknown }[] = [
    {
      name: 'a script path with no type or mode: SCRIPT, ASYNC',
      input: { container_hooks: { pre_start: { script: '/home/ma-user/work/setup.sh' } } },
      expected: { preStart: { script: '/home/ma-user/work/setup.sh', type: 'SCRIPT', mode: 'ASYNC' } },
    },
    {
      name: 'a base64 COMMAND, type and mode in lower case',
      input: { container_hooks: { post_start: { script: base64('pip install -r requirements.txt'), type: 'command', mode: 'block' } } },
      expected: { postStart: { script: base64('pip install -r requirements.txt'), type: 'COMMAND', mode: 'BLOCK' } },
    },
    {
      name: 'mixed-case enums',
      input: { container_hooks: { pre_start: { script: '/opt/hooks/pre.sh', type: 'Script', mode: 'Async' } } },
      expected: { preStart: { script: '/opt/hooks/pre.sh', type: 'SCRIPT', mode: 'ASYNC' } },
    },
    {
      name: 'both hooks',
      input: {
        container_hooks: {
          pre_start: { script: base64('echo pre'), type: 'COMMAND', mode: 'BLOCK' },
          post_start: { script: '/opt/hooks/post.sh', type: 'SCRIPT' },
        },
      },
      expected: {
        preStart: { script: base64('echo pre'), type: 'COMMAND', mode: 'BLOCK' },
        postStart: { script: '/opt/hooks/post.sh', type: 'SCRIPT', mode: 'ASYNC' },
      },
    },
  ];
  for (const c of accepted) {
    it(`accepts ${c.name}`, () => assert.deepEqual(validateHooks(c.input), c.expected));
  }

  const hook = (h: Record<string, unknown>) => ({ container_hooks: { pre_start: h } });
  const refusals: { name: string; input: unknown; code: string; message?: RegExp }[] = [
    { name: 'hooks that are not an object', input: 'echo hi', code: '6332' },
    { name: 'container_hooks that is not an object', input: { container_hooks: [] }, code: '6332' },
    { name: 'a hook without script', input: hook({ type: 'SCRIPT' }), code: '6335', message: /'hooks\.container_hooks\.pre_start\.script' is a required property/ },
    { name: 'a non-string script', input: hook({ script: 42 }), code: '6332' },
    { name: 'a COMMAND that is not base64', input: hook({ script: 'pip install x', type: 'COMMAND' }), code: '6336', message: /base64/ },
    { name: 'an empty COMMAND', input: hook({ script: '', type: 'COMMAND' }), code: '6336' },
    { name: 'a COMMAND with broken padding', input: hook({ script: 'YWJj=', type: 'COMMAND' }), code: '6336' },
    { name: 'a relative SCRIPT path', input: hook({ script: 'setup.sh' }), code: '6336', message: /absolute path/ },
    { name: 'a SCRIPT path with ..', input: hook({ script: '/home/ma-user/../../etc/passwd' }), code: '6336' },
    { name: 'an unknown type', input: hook({ script: '/a.sh', type: 'shell' }), code: '6336', message: /Allowed values: COMMAND, SCRIPT/ },
    { name: 'an unknown mode', input: hook({ script: '/a.sh', mode: 'sync' }), code: '6336', message: /Allowed values: BLOCK, ASYNC/ },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} with ModelArts.${c.code}`, () => {
      assert.throws(() => validateHooks(c.input), refused(c.code, c.message));
    });
  }
});

describe('expectEnum', () => {
  const MEMBERS = ['TIMING', 'IDLE'] as const;
  for (const [input, expected] of [['timing', 'TIMING'], ['TIMING', 'TIMING'], ['Idle', 'IDLE']] as const) {
    it(`${JSON.stringify(input)} → ${expected}`, () => assert.equal(expectEnum('type', input, MEMBERS), expected));
  }
  it('refuses a non-member with ModelArts.6336 listing the members', () => {
    assert.throws(() => expectEnum('type', 'daily', MEMBERS), refused('6336', /'type' property value is incorrect\. Allowed values: TIMING, IDLE\./));
  });
  it('refuses a non-string with ModelArts.6332', () => {
    assert.throws(() => expectEnum('type', 1, MEMBERS), refused('6332'));
  });
});

describe('validateCapacity', () => {
  for (const gb of [5, 50, 4096]) {
    it(`accepts ${gb} GB`, () => assert.equal(validateCapacity('volume.capacity', gb), gb));
  }
  for (const gb of [0, -1, 4, 4097]) {
    it(`refuses ${gb} GB with ModelArts.6331 naming the range`, () => {
      assert.throws(() => validateCapacity('volume.capacity', gb), refused('6331', /The evs volume size ranges from 5 GB to 4096 GB\./));
    });
  }
  for (const value of [5.5, '10', null, Number.NaN]) {
    it(`refuses ${JSON.stringify(value)} with ModelArts.6332 naming the field`, () => {
      assert.throws(() => validateCapacity('volume.capacity', value), refused('6332', /'volume\.capacity' parameter must be of the 'integer' type/));
    });
  }
  it('honours a flavor’s smaller maximum', () => {
    assert.equal(validateCapacity('volume.capacity', 5, 5), 5);
    assert.throws(() => validateCapacity('volume.capacity', 6, 5), refused('6331', /from 5 GB to 5 GB/));
  });
});

describe('validateTags', () => {
  const accepted: { name: string; input: unknown; expected: unknown }[] = [
    { name: 'no tags', input: [], expected: [] },
    { name: 'a key and a value', input: [{ key: 'team', value: 'ml' }], expected: [{ key: 'team', value: 'ml' }] },
    { name: 'a key without value', input: [{ key: 'scratch' }], expected: [{ key: 'scratch', value: '' }] },
    { name: 'a 128-character key and a 255-character value', input: [{ key: 'k'.repeat(128), value: 'v'.repeat(255) }], expected: [{ key: 'k'.repeat(128), value: 'v'.repeat(255) }] },
    { name: 'twenty tags', input: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}` })), expected: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: '' })) },
  ];
  for (const c of accepted) {
    it(`accepts ${c.name}`, () => assert.deepEqual(validateTags(c.input), c.expected));
  }

  const refusals: { name: string; input: unknown; code: string }[] = [
    { name: 'not a list', input: { key: 'team' }, code: '6332' },
    { name: 'twenty-one tags', input: Array.from({ length: 21 }, (_, i) => ({ key: `k${i}` })), code: '6336' },
    { name: 'an entry that is not an object', input: ['team=ml'], code: '6332' },
    { name: 'an empty key', input: [{ key: '' }], code: '6336' },
    { name: 'a 129-character key', input: [{ key: 'k'.repeat(129) }], code: '6336' },
    { name: 'a key starting with _sys_', input: [{ key: '_sys_enterprise_project_id' }], code: '6336' },
    { name: 'a key with =', input: [{ key: 'a=b' }], code: '6336' },
    { name: 'a key with ,', input: [{ key: 'a,b' }], code: '6336' },
    { name: 'a key with |', input: [{ key: 'a|b' }], code: '6336' },
    { name: 'a 256-character value', input: [{ key: 'team', value: 'v'.repeat(256) }], code: '6336' },
    { name: 'a non-string value', input: [{ key: 'team', value: 1 }], code: '6332' },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} with ModelArts.${c.code}`, () => {
      assert.throws(() => validateTags(c.input), refused(c.code));
    });
  }
});
