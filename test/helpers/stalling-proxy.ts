// A TCP proxy in front of a MySQL server that fails the way a bad network does after the login:
// it passes the handshake, then holds (neither delivers nor drops) what one side sends, until healed.
// The server never learns that the client gave up while the link is held, exactly as in a partition.
// It can also hold new links' greetings: a server that accepts but is too busy to answer.

import { connect, createServer, type Server, type Socket } from 'node:net';

/** How links behave once their login has completed. */
export type StallMode =
  | { readonly kind: 'pass' }
  /** Every client packet after the login is held: a SET or query never reaches the server. */
  | { readonly kind: 'client-after-login' }
  /** Client packets pass, but once a statement matching `statement` has passed, the server's replies are held. */
  | { readonly kind: 'replies-after'; readonly statement: RegExp }
  /** Links not yet greeted stay so: their greeting is held, as from a server too busy to answer. */
  | { readonly kind: 'silent' };

export type StallingProxy = {
  readonly host: string;
  readonly port: number;
  /** Applies to every link from now on (open ones included). */
  stall(mode: StallMode): void;
  /** Delivers everything held, in order (a close held back too), and passes all traffic from now on. */
  heal(): void;
  /** Links whose login completed, since the proxy started. */
  readonly loggedInLinks: number;
  /** Links accepted, since the proxy started. */
  readonly links: number;
  /** Bytes held right now, both directions. */
  heldBytes(): number;
  /** Destroys every link and stops listening. */
  close(): Promise<void>;
};

const HOST = '127.0.0.1';
const COM_QUERY = 0x03;
const OK_PACKET = 0x00;

/** Splits complete MySQL packets (3-byte length, sequence id, payload) off the front of `buffer`. */
function takePackets(buffer: Buffer): { payloads: Buffer[]; rest: Buffer } {
  const payloads: Buffer[] = [];
  let offset = 0;
  while (buffer.length - offset >= 4) {
    const length = buffer.readUIntLE(offset, 3);
    if (buffer.length - offset - 4 < length) break;
    payloads.push(buffer.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return { payloads, rest: buffer.subarray(offset) };
}

class Link {
  loggedIn = false;
  holdingClient = false;
  holdingReplies = false;
  clientClosed = false;
  serverClosed = false;
  readonly toServer: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  #serverBytes: Buffer = Buffer.alloc(0);
  #clientBytes: Buffer = Buffer.alloc(0);
  #serverPackets = 0;

  constructor(
    readonly client: Socket,
    readonly server: Socket,
    readonly mode: () => StallMode,
    readonly onLogin: () => void,
  ) {}

  fromServer(chunk: Buffer): void {
    if (this.#serverPackets === 0 && this.mode().kind === 'silent') this.holdingReplies = true;
    if (this.holdingReplies) {
      this.toClient.push(chunk);
      return;
    }
    this.client.write(chunk);
    if (this.loggedIn) return;
    // Login: the server's greeting, then (after any auth switch) OK ends it.
    const { payloads, rest } = takePackets(Buffer.concat([this.#serverBytes, chunk]));
    this.#serverBytes = rest;
    for (const payload of payloads) {
      this.#serverPackets++;
      if (this.#serverPackets > 1 && payload[0] === OK_PACKET) {
        this.loggedIn = true;
        this.onLogin();
      }
    }
  }

  fromClient(chunk: Buffer): void {
    const mode = this.mode();
    if (this.holdingClient || (this.loggedIn && mode.kind === 'client-after-login')) {
      this.holdingClient = true;
      this.toServer.push(chunk);
      return;
    }
    this.server.write(chunk);
    if (!this.loggedIn || mode.kind !== 'replies-after') return;
    const { payloads, rest } = takePackets(Buffer.concat([this.#clientBytes, chunk]));
    this.#clientBytes = rest;
    for (const payload of payloads) {
      if (payload[0] === COM_QUERY && mode.statement.test(payload.subarray(1).toString('utf8'))) {
        this.holdingReplies = true;
      }
    }
  }

  clientGone(): void {
    if (this.holdingClient) this.clientClosed = true;
    else this.server.end();
  }

  serverGone(): void {
    if (this.holdingReplies) this.serverClosed = true;
    else this.client.end();
  }

  heal(): void {
    this.holdingClient = false;
    this.holdingReplies = false;
    for (const chunk of this.toServer.splice(0)) this.server.write(chunk);
    for (const chunk of this.toClient.splice(0)) if (!this.client.destroyed) this.client.write(chunk);
    if (this.clientClosed) this.server.end();
    if (this.serverClosed) this.client.end();
  }

  heldBytes(): number {
    return [...this.toServer, ...this.toClient].reduce((sum, chunk) => sum + chunk.length, 0);
  }

  destroy(): void {
    this.client.destroy();
    this.server.destroy();
  }
}

export async function startStallingProxy(target: { host: string; port: number }): Promise<StallingProxy> {
  let mode: StallMode = { kind: 'pass' };
  let loggedInLinks = 0;
  let accepted = 0;
  const links = new Set<Link>();
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = connect({ host: target.host, port: target.port, noDelay: true });
    const link = new Link(
      client,
      upstream,
      () => mode,
      () => {
        loggedInLinks++;
      },
    );
    links.add(link);
    client.setNoDelay(true);
    // Errors end a link; they must not crash the test run.
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('data', (chunk: Buffer) => link.fromClient(chunk));
    upstream.on('data', (chunk: Buffer) => link.fromServer(chunk));
    client.on('close', () => link.clientGone());
    upstream.on('close', () => {
      link.serverGone();
      if (link.clientClosed || client.destroyed) links.delete(link);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the proxy has no port');
  return {
    host: HOST,
    port: address.port,
    stall(next) {
      mode = next;
    },
    heal() {
      mode = { kind: 'pass' };
      for (const link of links) link.heal();
    },
    get loggedInLinks() {
      return loggedInLinks;
    },
    get links() {
      return accepted;
    },
    heldBytes: () => [...links].reduce((sum, link) => sum + link.heldBytes(), 0),
    async close() {
      for (const link of links) link.destroy();
      links.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
