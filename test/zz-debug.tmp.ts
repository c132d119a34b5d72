import { startTestService } from './support/service.ts';
import { createUser, login, passwordBody, SkewedClock } from './api/identity-helpers.ts';
import { monitorEventLoopDelay } from 'node:perf_hooks';
const clock = new SkewedClock();
import pino from 'pino';
import { Writable } from 'node:stream';
import { LOG_REDACTION } from '../src/auth/log-redaction.ts';
let bytes = 0; const lines: string[] = [];
const sink = new Writable({ write(c, _e, d) { bytes += c.length; lines.push(String(c).slice(0, 200)); d(); } });
const svc = await startTestService({ clock, log: pino({ level: 'trace', redact: LOG_REDACTION }, sink), overrides: { logLevel: 'trace' } });
const h = monitorEventLoopDelay({ resolution: 10 }); h.enable();
try {
  const alice = await createUser(svc, 'alice');
  for (let i = 0; i < 3; i++) {
    const first = await login(svc, passwordBody('alice', alice.password));
    clock.advance(3_600_000);
    const t0 = Date.now();
    const res = await login(svc, { auth: { identity: { methods: ['token'], token: { id: first.headers.get('x-subject-token') } } } });
    console.log('log bytes', bytes, lines.length); console.log('second', res.status, Date.now() - t0, 'maxdelay ms', Math.round(h.max / 1e6));
  }
} finally { await svc.close(); }
