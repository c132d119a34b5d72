// The notebookd SDK: `import { createClient } from 'notebookd/sdk'`.
export { createClient } from './client.ts';
export type * from './client.ts';
export { NotebookdError, type Credentials } from './http.ts';
