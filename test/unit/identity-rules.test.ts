// Pure identity rules: who may act on an instance, a project or an account (auth/authorize.ts),
// and the field rules for names, passwords and roles (domain/identity-rules.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authorizeNotebook,
  authorizeProjectAdmin,
  authorizeProjectWrite,
  authorizeSystemAdmin,
  authorizeUserAccount,
  canSeeUser,
  checkProject,
  seesWholeProject,
} from '../../src/auth/authorize.ts';
import { DomainError } from '../../src/domain/errors.ts';
import type { Caller, Role, User } from '../../src/domain/identity.ts';
import { parseRole, validateId, validatePassword, validateProjectName, validateUserName } from '../../src/domain/identity-rules.ts';

const user = (id: string, role: Role, projectId = 'pA', systemAdmin = false): User => ({
  id,
  projectId,
  name: id,
  domainId: projectId,
  domainName: projectId,
  role,
  systemAdmin,
  passwordHash: null,
  createAt: 0,
});
const caller = (u: User): Caller => ({ user: u, projectId: u.projectId, method: 'token' });

const root = caller(user('root', 'admin', 'pA', true));
const admin = caller(user('admin', 'admin'));
const member = caller(user('member', 'member'));
const viewer = caller(user('viewer', 'viewer'));
const outsider = caller(user('outsider', 'admin', 'pB'));

/** The error code a rule throws, or 'ok'. */
function outcome(f: () => void): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof DomainError, String(e));
    return e.code;
  }
}

describe('authorizeNotebook (instance of `member` in project pA)', () => {
  const nb = { owner: { id: 'member', name: 'member', domainId: 'pA', domainName: 'pA' }, projectId: 'pA' };
  const othersNb = { ...nb, owner: { ...nb.owner, id: 'someone' } };
  const table: [string, Caller, typeof nb, 'read' | 'write', string][] = [
    ['system admin writes anything', root, othersNb, 'write', 'ok'],
    ['admin writes another user\'s', admin, othersNb, 'write', 'ok'],
    ['member writes its own', member, nb, 'write', 'ok'],
    ['member reads another\'s', member, othersNb, 'read', 'ModelArts.0108'],
    ['member writes another\'s', member, othersNb, 'write', 'ModelArts.0108'],
    ['viewer reads another\'s', viewer, othersNb, 'read', 'ok'],
    ['viewer writes another\'s', viewer, othersNb, 'write', 'ModelArts.0108'],
    ['an admin of another project reads', outsider, nb, 'read', 'ModelArts.0108'],
  ];
  for (const [name, c, target, access, want] of table) {
    it(`${name}: ${want}`, () => assert.equal(outcome(() => authorizeNotebook(c, target, access, 'Op')), want));
  }
});

describe('project and account rules', () => {
  it('checkProject: own project or system admin, else 0210', () => {
    assert.equal(outcome(() => checkProject(member, 'pA')), 'ok');
    assert.equal(outcome(() => checkProject(member, 'pB')), 'ModelArts.0210');
    assert.equal(outcome(() => checkProject(root, 'pB')), 'ok');
  });

  it('project writes, whole-project reads, project and system administration per role', () => {
    const rows: [Caller, string, string, boolean, string, string][] = [
      // caller, projectWrite, projectAdmin(pA), seesWhole, systemAdmin, projectAdmin(pB)
      [root, 'ok', 'ok', true, 'ok', 'ok'],
      [admin, 'ok', 'ok', true, 'ModelArts.0108', 'ModelArts.0210'],
      [member, 'ok', 'ModelArts.0108', false, 'ModelArts.0108', 'ModelArts.0210'],
      [viewer, 'ModelArts.0108', 'ModelArts.0108', true, 'ModelArts.0108', 'ModelArts.0210'],
    ];
    for (const [c, write, projectAdmin, whole, system, otherProject] of rows) {
      const who = c.user.id;
      assert.equal(outcome(() => authorizeProjectWrite(c, 'Op')), write, `${who} project write`);
      assert.equal(outcome(() => authorizeProjectAdmin(c, 'pA', 'Op')), projectAdmin, `${who} project admin`);
      assert.equal(seesWholeProject(c), whole, `${who} sees the whole project`);
      assert.equal(outcome(() => authorizeSystemAdmin(c, 'Op')), system, `${who} system admin`);
      assert.equal(outcome(() => authorizeProjectAdmin(c, 'pB', 'Op')), otherProject, `${who} other project`);
    }
  });

  it('accounts: visible to themselves, their project\'s admins and system admins; project admins never act on system admins', () => {
    const someMember = user('m2', 'member');
    const rootUser = root.user;
    const stranger = user('s', 'member', 'pB');
    assert.deepEqual([canSeeUser(member, member.user), canSeeUser(member, someMember), canSeeUser(admin, someMember), canSeeUser(admin, stranger), canSeeUser(root, stranger)], [true, false, true, false, true]);
    assert.equal(outcome(() => authorizeUserAccount(admin, someMember, 'Op')), 'ok');
    assert.equal(outcome(() => authorizeUserAccount(admin, rootUser, 'Op')), 'ModelArts.0108');
    assert.equal(outcome(() => authorizeUserAccount(member, someMember, 'Op')), 'ModelArts.0108');
    assert.equal(outcome(() => authorizeUserAccount(viewer, viewer.user, 'Op')), 'ok', 'a viewer manages its own keys');
    assert.equal(outcome(() => authorizeUserAccount(outsider, someMember, 'Op')), 'ModelArts.0108');
  });
});

describe('identity field rules', () => {
  const accepts = (f: () => unknown) => outcome(() => void f());
  it('user names', () => {
    for (const ok of ['alice', 'a', 'alice.smith@example.org', 'Bob_2', 'x y']) assert.equal(accepts(() => validateUserName(ok)), 'ok', ok);
    for (const bad of ['', ' alice', 'alice ', '-alice', '.alice', 'a'.repeat(65), 'al/ice', 'al<ice']) assert.equal(accepts(() => validateUserName(bad)), 'ModelArts.6336', JSON.stringify(bad));
    assert.equal(accepts(() => validateUserName(7)), 'ModelArts.6332');
  });

  it('project names and chosen ids', () => {
    for (const ok of ['default', 'team-a', 'T1.prod_x']) assert.equal(accepts(() => validateProjectName(ok)), 'ok', ok);
    for (const bad of ['', '-a', 'a b', 'a'.repeat(65)]) assert.equal(accepts(() => validateProjectName(bad)), 'ModelArts.6336', bad);
    assert.equal(accepts(() => validateId('0123456789abcdef', 'id')), 'ok');
    for (const bad of ['short', 'UPPERCASE0123', 'with-dash-0123']) assert.equal(accepts(() => validateId(bad, 'id')), 'ModelArts.6336', bad);
  });

  it('passwords: 8 to 128 characters (counted as characters, not bytes), not the user name', () => {
    assert.equal(accepts(() => validatePassword('12345678', 'alice')), 'ok');
    assert.equal(accepts(() => validatePassword('ünïcödé!', 'alice')), 'ok');
    assert.equal(accepts(() => validatePassword('1234567', 'alice')), 'ModelArts.6336');
    assert.equal(accepts(() => validatePassword('x'.repeat(129), 'alice')), 'ModelArts.6336');
    assert.equal(accepts(() => validatePassword('Alice.Smith', 'alice.smith')), 'ModelArts.6336');
  });

  it('roles in any case', () => {
    assert.equal(parseRole('ADMIN'), 'admin');
    assert.equal(parseRole('viewer'), 'viewer');
    assert.equal(accepts(() => parseRole('owner')), 'ModelArts.6336');
  });
});
