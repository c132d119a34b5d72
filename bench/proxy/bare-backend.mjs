// bench/proxy's bare backend: node:http answering 1 KiB of JSON to every request, and a WebSocket
// echo on any path. Prints its port on stdout. Run by bench/proxy/run.ts in a process of its own.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const body = JSON.stringify({ pad: 'x'.repeat(1024 - 10) });
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
new WebSocketServer({ server }).on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
