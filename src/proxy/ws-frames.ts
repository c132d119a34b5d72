// Just enough WebSocket framing to tell traffic from keep-alives: a chunk made only of control
// frames (ping, pong, close) is not activity. An open but silent browser tab exchanges pings with
// Jupyter every 30 s, and must not keep an IDLE instance alive forever.

/** True when `chunk` is exactly a sequence of whole control frames (RFC 6455 §5.5). */
export function onlyControlFrames(chunk: Buffer): boolean {
  let i = 0;
  while (i < chunk.length) {
    if (i + 2 > chunk.length) return false;
    const b0 = chunk[i]!;
    const b1 = chunk[i + 1]!;
    if ((b0 & 0x08) === 0) return false; // opcodes 0x0-0x7: data or continuation
    const len = b1 & 0x7f;
    if (len > 125) return false; // control frames carry at most 125 bytes
    i += 2 + ((b1 & 0x80) !== 0 ? 4 : 0) + len;
  }
  return i === chunk.length;
}
