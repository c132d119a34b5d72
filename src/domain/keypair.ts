// SSH key pairs in the shape of the KPS API. Names are unique within a project: an instance's SSH
// endpoint names the key pairs that may log in, and the gateway resolves them in its project.

export type KeyPairAlgorithm = 'ed25519' | 'rsa';

export interface KeyPair {
  projectId: string;
  name: string;
  /** The user who created or imported it. */
  userId: string;
  /** KPS type: always "ssh" here (x509 is not offered). */
  type: 'ssh';
  /** OpenSSH one-line form: "<algo> <base64> [comment]". */
  publicKey: string;
  /** "SHA256:<base64 without padding>", as `ssh-keygen -l` prints it. */
  fingerprint: string;
  createAt: number;
}

export const KEY_PAIR_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
