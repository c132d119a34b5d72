// The one place where errors become HTTP responses in the ModelArts format:
// {"error_code":"ModelArts.xxxx","error_msg":"..."} (+ request_id for gateway-level errors).
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, errors } from '../domain/errors.ts';

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

const fieldName = (e: AjvError, context: string | undefined) => {
  const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  return path || (context ?? 'body');
};

/** Schema validation failures carry the documented codes: wrong type 6332, missing 6335. */
function fromValidation(validation: AjvError[], context: string | undefined): DomainError {
  const first = validation[0]!;
  switch (first.keyword) {
    case 'type':
      return errors.wrongType(fieldName(first, context), String(first.params.type));
    case 'required': {
      const parent = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
      return errors.required((parent ? parent + '.' : '') + String(first.params.missingProperty));
    }
    default:
      return errors.incorrectValue(fieldName(first, context), first.message ?? '');
  }
}

export function toDomainError(error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  const fe = error as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (fe?.validation) return fromValidation(fe.validation, fe.validationContext);
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.invalidPayload('(unsupported content type; send application/json)');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new DomainError('ModelArts.6400', 'Invalid request payload (too large), please check.', 413);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return errors.invalidArgument('A path parameter is too long.');
    case 'FST_ERR_BAD_URL':
      return errors.invalidArgument('The URL is not validly encoded.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.invalidPayload('(empty or truncated body)');
  }
  if (error instanceof SyntaxError || fe?.statusCode === 400) return errors.invalidPayload(`(${fe.message})`);
  if (fe?.statusCode === 429) return new DomainError('ModelArts.0118', 'Too many requests; slow down.', 429);
  return errors.internal();
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const domain = toDomainError(error);
  if (domain.httpStatus >= 500) request.log.error({ err: error }, 'request failed');
  const body: Record<string, string> = { error_code: domain.code, error_msg: domain.message };
  if (domain.code.startsWith('APIGW.')) body.request_id = String(request.id);
  return reply.status(domain.httpStatus).type('application/json').send(body);
}

/**
 * Requests Node's HTTP parser refuses before there is a request (a request line or headers over
 * the size limit, bytes that are not HTTP, a client too slow to send them) get the same format.
 */
export function sendClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'The request line or headers are too large.']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request was not received in time.']
        : [400, 'The request is not valid HTTP.'];
  const body = JSON.stringify({ error_code: 'ModelArts.0101', error_msg: message });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
