// /v3/{project_id}/keypairs...: SSH key pairs in the KPS API shape (create or import, list, show,
// delete). The private key of a generated pair is in the create response only.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { KeyPair } from '../../domain/keypair.ts';
import type { KeyPairService } from '../../service/keypair-service.ts';
import { ProjectParams } from '../schemas.ts';
import { callerOf } from '../server.ts';

const tags = ['keypairs'];
const KeyPairParams = Type.Object({ project_id: Type.String(), keypair_name: Type.String() });
// Field rules (and their ModelArts codes) live in the service; the schema documents the shape.
const CreateBody = Type.Object(
  {
    keypair: Type.Object(
      {
        name: Type.String({ description: '1-64 of [A-Za-z0-9_.-], unique in the project' }),
        type: Type.Optional(Type.String({ description: 'ssh (x509 is not offered)' })),
        public_key: Type.Optional(Type.String({ description: 'Import this OpenSSH public key instead of generating a pair' })),
        key_type: Type.Optional(Type.String({ description: 'notebookd extension: ed25519 (default) or rsa, for generated pairs' })),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

export const presentKeyPair = (k: KeyPair, privateKey?: string) => ({
  name: k.name,
  type: k.type,
  scope: 'user',
  public_key: k.publicKey,
  ...(privateKey !== undefined && { private_key: privateKey }),
  fingerprint: k.fingerprint,
  user_id: k.userId,
  create_time: k.createAt,
});

export const keyPairRoutes: FastifyPluginAsync<{ keypairs: KeyPairService }> = async (app, { keypairs }) => {
  app.post('/v3/:project_id/keypairs', { schema: { tags, summary: 'CreateKeypair (generate, or import public_key)', params: ProjectParams, body: CreateBody } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    const created = await keypairs.create(callerOf(request), project_id, request.body);
    return { keypair: presentKeyPair(created.keyPair, created.privateKey) };
  });

  app.get('/v3/:project_id/keypairs', { schema: { tags, summary: 'ListKeypairs', params: ProjectParams } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    const list = await keypairs.list(callerOf(request), project_id);
    return { keypairs: list.map((k) => ({ keypair: presentKeyPair(k) })) };
  });

  app.get('/v3/:project_id/keypairs/:keypair_name', { schema: { tags, summary: 'ListKeypairDetail', params: KeyPairParams } }, async (request) => {
    const { project_id, keypair_name } = request.params as { project_id: string; keypair_name: string };
    return { keypair: presentKeyPair(await keypairs.show(callerOf(request), project_id, keypair_name)) };
  });

  app.delete('/v3/:project_id/keypairs/:keypair_name', { schema: { tags, summary: 'DeleteKeypair (204, as KPS answers)', params: KeyPairParams } }, async (request, reply) => {
    const { project_id, keypair_name } = request.params as { project_id: string; keypair_name: string };
    await keypairs.remove(callerOf(request), project_id, keypair_name);
    return reply.code(204).send();
  });
};
