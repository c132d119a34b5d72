// Typed domain errors with the stable ModelArts codes. Only api/error-mapping.ts turns them into
// HTTP responses; everything below the API throws these and nothing else on purpose.

export type HttpStatus = 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500 | 503;

export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: HttpStatus = 400,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

const err = (code: string, status: HttpStatus) => (message: string) => new DomainError(code, message, status);

// Codes from reference/modelarts-notebook-api.md §3. The functions carry the documented wording.
export const errors = {
  invalidArgument: err('ModelArts.0101', 400),
  parameterError: err('ModelArts.0104', 400),
  quotaExhausted: (what: string, operation = 'Create Notebook') =>
    new DomainError('ModelArts.0113', `${operation} failed. Quota: ${what} is exhausted.`),
  flavorNotPermitted: (flavor: string) =>
    new DomainError('ModelArts.6328', `The project has no permission for flavor ${flavor}; ask an administrator.`),
  loginFailed: () => new DomainError('ModelArts.0201', 'The user name or password is wrong.', 401),
  noAuthHeader: () => new DomainError('ModelArts.0205', 'No authorization request header.', 401),
  tokenInvalid: () => new DomainError('ModelArts.0203', 'The token is invalid or has expired.', 401),
  projectMismatch: () => new DomainError('ModelArts.0210', 'The project id in the request URL does not match the token.', 403),
  notAuthorized: (operation: string) =>
    new DomainError('ModelArts.0108', `You are not authorized to perform the (${operation}) operation.`, 403),
  signatureInvalid: (detail = 'verify aksk signature fail') =>
    new DomainError('APIGW.0301', `Incorrect IAM authentication information: ${detail}`, 401),
  apiNotFound: () =>
    new DomainError('APIGW.0101', 'The API does not exist or has not been published in the environment.', 404),

  alreadyRunning: () => new DomainError('ModelArts.6305', 'The instance is already running.'),
  starting: () => new DomainError('ModelArts.6306', 'The instance is starting.'),
  alreadyStopped: () => new DomainError('ModelArts.6307', 'The instance has already been stopped.'),
  stopping: () => new DomainError('ModelArts.6308', 'The instance is stopping.'),
  notSortable: (key: string) => new DomainError('ModelArts.6303', `The field does not support sorting: ${key}.`),
  instanceExists: (detail: string) => new DomainError('ModelArts.6301', `The instance already exists: ${detail}`),
  instanceLimit: (detail = '') =>
    new DomainError('ModelArts.6302', `The instance count already reaches the maximum value.${detail ? ' ' + detail : ''}`),
  flavorUnsupported: (flavor: string) =>
    new DomainError('ModelArts.6323', `The flavor is not supported, please check it: ${flavor}.`),
  flavorSoldOut: (flavor: string) => new DomainError('ModelArts.6716', `flavor ${flavor} sold out.`),
  frozen: () => new DomainError('ModelArts.6326', 'The instance is frozen. Ask an administrator to unfreeze it.'),
  notRunning: () =>
    new DomainError('ModelArts.6327', 'The instance is not in running. Please refresh the page and start it.'),
  volumeSize: (minGb: number, maxGb: number, detail = '') =>
    new DomainError('ModelArts.6331', `The evs volume size ranges from ${minGb} GB to ${maxGb} GB.${detail ? ' ' + detail : ''}`),
  wrongType: (field: string, type: string) =>
    new DomainError('ModelArts.6332', `Incorrect parameter type. The '${field}' parameter must be of the '${type}' type.`),
  forbiddenCharacter: (ch: string) =>
    new DomainError('ModelArts.6334', `Invalid value for name or description. The character \`${ch}\` is not allowed.`),
  required: (field: string) => new DomainError('ModelArts.6335', `'${field}' is a required property.`),
  incorrectValue: (field: string, detail?: string) =>
    new DomainError('ModelArts.6336', `'${field}' property value is incorrect.${detail ? ' ' + detail : ''}`),
  notModifiable: (status: string, field: string) =>
    new DomainError('ModelArts.6347', `When the instance is in the '${status}' status, the '${field}' parameter cannot be modified.`),
  durationRange: (minMs: number, maxMs: number, detail = '') =>
    new DomainError('ModelArts.6349', `The 'duration' parameter is incorrect. The value ranges from ${minMs} to ${maxMs}.${detail ? ' ' + detail : ''}`),
  conflict: (detail = '') =>
    new DomainError(
      'ModelArts.6357',
      'The operation is not allowed because another operation is being performed on the instance or the instance is in the target state.' +
        (detail ? ' ' + detail : ''),
    ),
  invalidPayload: (detail: string) => new DomainError('ModelArts.6400', `Invalid request payload ${detail}, please check.`),
  notebookNotFound: (id: string) => new DomainError('ModelArts.6404', `The instance does not exist: ${id}.`, 404),
  imageNotFound: (id: string) => new DomainError('ModelArts.6404', `The image does not exist: ${id}.`, 404),
  sshConfigMissing: (image: string) =>
    new DomainError('ModelArts.6768', `SSH configuration is missing, target image ${image} only support SSH dev service.`),
  flavorNotSwitchable: (id: string, flavor: string) =>
    new DomainError('ModelArts.6792', `Instance ${id} does not support to update flavor to ${flavor}, please try another flavor.`),
  imageMissing: (image: string) => new DomainError('ModelArts.6797', `Specified image ${image} cannot be found.`),
  imageUnavailable: (image: string, why: string) =>
    new DomainError('ModelArts.6797', `Specified image ${image} cannot be used on this host: ${why}`),
  flavorFeature: (flavor: string, feature: string) =>
    new DomainError('ModelArts.6870', `Specified flavor ${flavor} does not support current instance feature ${feature}.`),
  imageInUse: (image: string) =>
    new DomainError('ModelArts.6357', `The image ${image} is used by notebook instances; pass is_force to delete it anyway.`),
  internal: (detail = 'Internal error.') => new DomainError('ModelArts.0010', detail, 500),
  // Identity administration (projects, users, credentials): not found, duplicates, still in use.
  identityNotFound: (kind: string, id: string) => new DomainError('ModelArts.6404', `The ${kind} does not exist: ${id}.`, 404),
  identityExists: (kind: string, name: string) => new DomainError('ModelArts.6301', `The ${kind} already exists: ${name}.`, 409),
  identityInUse: (detail: string) => new DomainError('ModelArts.6357', detail, 409),
  // Key pairs (the KPS API shape) and the access gateway (proxy, SSH).
  keyPairNotFound: (name: string) => new DomainError('KPS.0404', `The key pair does not exist: ${name}.`, 404),
  keyPairExists: (name: string) => new DomainError('KPS.0409', `A key pair named ${name} already exists in this project.`, 409),
  keyPairMissing: (field: string, name: string) =>
    new DomainError('ModelArts.6336', `'${field}' property value is incorrect. The key pair ${name} does not exist in this project; create or import it with POST /v3/{project_id}/keypairs.`),
  addressRefused: (address: string, service: string) =>
    new DomainError('ModelArts.0108', `Access from ${address} is not allowed by the instance's ${service} allowed_access_ips.`, 403),
  instanceNotReachable: (id: string, status: string) =>
    new DomainError('ModelArts.6327', `The instance ${id} is ${status}, not RUNNING; start it and open its URL again.`, 409),
  instanceStarting: (id: string, status: string) =>
    new DomainError('ModelArts.6306', `The instance ${id} is ${status}; it answers here once it is RUNNING.`, 503),
};

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;
