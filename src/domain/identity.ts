// Who is calling. Projects hold users; a user has one role in its project.

export type Role = 'admin' | 'member' | 'viewer';

export interface Project {
  id: string;
  name: string;
  createAt: number;
}

export interface User {
  id: string;
  projectId: string;
  name: string;
  domainId: string;
  domainName: string;
  role: Role;
  systemAdmin: boolean;
  /** scrypt hash, "scrypt$N$r$p$salt$hash"; null when the user has no password. */
  passwordHash: string | null;
  createAt: number;
}

export interface AuthToken {
  /** sha256 of the token; the token itself is never stored. */
  tokenHash: string;
  userId: string;
  projectId: string;
  expiresAt: number;
  revoked: boolean;
  createAt: number;
}

export interface AccessKey {
  accessKey: string;
  /** The SK must be kept to verify HMAC signatures; it is returned only once, at creation. */
  secretKey: string;
  userId: string;
  description: string;
  status: 'active' | 'inactive';
  createAt: number;
}

/** The authenticated caller of one request. */
export interface Caller {
  user: User;
  projectId: string;
  method: 'token' | 'aksk';
}
