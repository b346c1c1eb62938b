// A MySQL-protocol server that logs users in the way RDS and RDS Proxy do for IAM database
// authentication: after the client's first answer it asks for `mysql_clear_password` and judges the
// token it receives. It speaks just enough of the protocol for withConnection (greeting, TLS upgrade,
// auth switch, COM_QUERY with a one-column result set or OK, COM_STMT_PREPARE refused, COM_QUIT).
// A wire tap in front of it records every byte the client sends, as it travels over TCP.
// mysql2's own createServer has no TLS upgrade and no auth switch, so the packets are written here.

import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

export type Login = {
  readonly user: string;
  readonly database: string;
  /** Whether the socket was TLS when the client sent its login. */
  readonly tls: boolean;
  /** What the client answered to the mysql_clear_password request (without the NUL); undefined if none. */
  readonly clearPassword: string | undefined;
};

/** A server error: errno, SQLSTATE and message as the server would send them. */
export type ServerError = { readonly errno: number; readonly sqlState?: string; readonly message: string };

export type FakeRdsEndpointOptions = {
  /** PEMs for the TLS upgrade; without them the greeting does not offer TLS. */
  readonly tls?: { readonly key: string; readonly cert: string } | undefined;
  /** Judges a login once the clear password arrived: undefined accepts, an error refuses. */
  readonly authenticate?: (login: Login) => ServerError | undefined;
  /** Answers a query: undefined gives the default (OK for SET, one row `result` = "ok" for the rest). */
  readonly answer?: (sql: string) => ServerError | undefined;
};

export type FakeRdsEndpoint = {
  /** The port the client should connect to: the wire tap's. */
  readonly port: number;
  readonly logins: Login[];
  readonly queries: string[];
  /** COM_STMT_PREPARE statements received (refused). */
  readonly prepares: string[];
  /** Every byte clients sent, as it crossed the wire (TLS records stay encrypted). */
  wireBytes(): Buffer;
  close(): Promise<void>;
};

const CLIENT = {
  LONG_PASSWORD: 0x1,
  FOUND_ROWS: 0x2,
  LONG_FLAG: 0x4,
  CONNECT_WITH_DB: 0x8,
  PROTOCOL_41: 0x200,
  SSL: 0x800,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x10000,
  MULTI_RESULTS: 0x20000,
  PLUGIN_AUTH: 0x80000,
  CONNECT_ATTRS: 0x100000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
} as const;
const COM_QUIT = 0x01;
const COM_QUERY = 0x03;
const COM_PING = 0x0e;
const COM_STMT_PREPARE = 0x16;
const SERVER_STATUS_AUTOCOMMIT = 0x0002;
const UTF8MB4_GENERAL_CI = 45;

export async function startFakeRdsEndpoint(options: FakeRdsEndpointOptions = {}): Promise<FakeRdsEndpoint> {
  const logins: Login[] = [];
  const queries: string[] = [];
  const prepares: string[] = [];
  const wire: Buffer[] = [];
  const sockets = new Set<Socket>();
  let nextConnectionId = 1;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, nextConnectionId++, options, { logins, queries, prepares });
  });
  const serverPort = await listen(server);
  // The tap: a plain TCP relay that keeps a copy of what the client sends.
  const tap = createServer((client) => {
    sockets.add(client);
    const upstream = connect(serverPort, '127.0.0.1');
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
      wire.push(Buffer.from(chunk));
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  const port = await listen(tap);
  return {
    port,
    logins,
    queries,
    prepares,
    wireBytes: () => Buffer.concat(wire),
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([closeServer(server), closeServer(tap)]);
    },
  };
}

type Records = { logins: Login[]; queries: string[]; prepares: string[] };

/** One client connection: a small state machine over framed packets. */
function serveConnection(
  raw: Socket,
  connectionId: number,
  options: FakeRdsEndpointOptions,
  records: Records,
) {
  let socket: Socket = raw;
  let buffered = Buffer.alloc(0);
  let sequenceId = 0;
  let state: 'login' | 'clear-password' | 'command' = 'login';
  let pending: { user: string; database: string; tls: boolean } | undefined;
  let upgrading = false;
  const scramble = randomBytes(20);

  const send = (payload: Buffer) => {
    const header = Buffer.alloc(4);
    header.writeUIntLE(payload.length, 0, 3);
    header[3] = sequenceId;
    sequenceId = (sequenceId + 1) % 256;
    socket.write(Buffer.concat([header, payload]));
  };
  const sendError = (error: ServerError) => {
    const state5 = (error.sqlState ?? 'HY000').padEnd(5, '0').slice(0, 5);
    const head = Buffer.alloc(3);
    head[0] = 0xff;
    head.writeUInt16LE(error.errno, 1);
    send(Buffer.concat([head, Buffer.from(`#${state5}${error.message}`, 'utf8')]));
  };

  const onPacket = (payload: Buffer) => {
    if (state === 'login') {
      const flags = payload.readUInt32LE(0);
      if (payload.length === 32 && (flags & CLIENT.SSL) !== 0 && options.tls !== undefined) {
        upgrading = true;
        return;
      }
      const login = parseHandshakeResponse(payload, flags);
      pending = { ...login, tls: socket instanceof TLSSocket };
      // Like RDS for an IAM user: whatever the client offered, switch to the clear-text plugin.
      state = 'clear-password';
      send(Buffer.concat([Buffer.from([0xfe]), Buffer.from('mysql_clear_password\0'), Buffer.from([0])]));
      return;
    }
    if (state === 'clear-password') {
      const nul = payload.indexOf(0);
      const clearPassword = payload.subarray(0, nul === -1 ? payload.length : nul).toString('utf8');
      const login: Login = {
        user: pending?.user ?? '',
        database: pending?.database ?? '',
        tls: pending?.tls ?? false,
        clearPassword,
      };
      records.logins.push(login);
      const refusal = login.tls
        ? options.authenticate?.(login)
        : {
            errno: 1045,
            sqlState: '28000',
            message: `Access denied for user '${login.user}' (TLS required)`,
          };
      if (refusal !== undefined) {
        sendError(refusal);
        socket.end();
        return;
      }
      state = 'command';
      sendOk();
      return;
    }
    sequenceId = 1;
    const command = payload[0];
    const text = payload.subarray(1).toString('utf8');
    if (command === COM_QUIT) {
      socket.end();
    } else if (command === COM_PING) {
      sendOk();
    } else if (command === COM_STMT_PREPARE) {
      records.prepares.push(text);
      sendError({ errno: 1295, message: 'prepared statements are refused by this test server' });
    } else if (command === COM_QUERY) {
      records.queries.push(text);
      const error = options.answer?.(text);
      if (error !== undefined) sendError(error);
      else if (/^\s*SET\b/i.test(text)) sendOk();
      else sendOneRow('result', 'ok');
    } else {
      sendError({ errno: 1047, message: `unknown command ${command}` });
    }
  };

  const sendOk = () => {
    const status = Buffer.alloc(4);
    status.writeUInt16LE(SERVER_STATUS_AUTOCOMMIT, 0);
    send(Buffer.concat([Buffer.from([0x00, 0x00, 0x00]), status]));
  };
  const sendEof = () => {
    const eof = Buffer.alloc(5);
    eof[0] = 0xfe;
    eof.writeUInt16LE(SERVER_STATUS_AUTOCOMMIT, 3);
    send(eof);
  };
  const sendOneRow = (column: string, value: string) => {
    send(Buffer.from([1]));
    const fixed = Buffer.alloc(13);
    fixed[0] = 0x0c;
    fixed.writeUInt16LE(UTF8MB4_GENERAL_CI, 1);
    fixed.writeUInt32LE(255, 3);
    fixed[7] = 0xfd; // VAR_STRING
    send(
      Buffer.concat([
        lenencString('def'),
        lenencString(''),
        lenencString(''),
        lenencString(''),
        lenencString(column),
        lenencString(column),
        fixed,
      ]),
    );
    sendEof();
    send(lenencString(value));
    sendEof();
  };

  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUIntLE(0, 3);
      if (buffered.length < 4 + length) return;
      const received = buffered[3] ?? 0;
      const payload = buffered.subarray(4, 4 + length);
      buffered = buffered.subarray(4 + length);
      sequenceId = (received + 1) % 256;
      onPacket(payload);
      if (upgrading) {
        // The client's TLS hello may have come in the same chunk as its SSL request: hand it back.
        const rest = buffered;
        buffered = Buffer.alloc(0);
        upgradeToTls(rest);
        return;
      }
    }
  };

  const upgradeToTls = (rest: Buffer) => {
    upgrading = false;
    raw.removeListener('data', onData);
    raw.pause();
    if (rest.length > 0) raw.unshift(rest);
    const tlsOptions = options.tls;
    if (tlsOptions === undefined) return;
    const secure = new TLSSocket(raw, { isServer: true, key: tlsOptions.key, cert: tlsOptions.cert });
    secure.on('data', onData);
    secure.on('error', () => raw.destroy());
    socket = secure;
  };

  raw.on('data', onData);
  raw.on('error', () => raw.destroy());
  send(greeting(connectionId, scramble, options.tls !== undefined));
}

function greeting(connectionId: number, scramble: Buffer, offerTls: boolean): Buffer {
  const capabilities =
    CLIENT.LONG_PASSWORD |
    CLIENT.FOUND_ROWS |
    CLIENT.LONG_FLAG |
    CLIENT.CONNECT_WITH_DB |
    CLIENT.PROTOCOL_41 |
    CLIENT.TRANSACTIONS |
    CLIENT.SECURE_CONNECTION |
    CLIENT.MULTI_STATEMENTS |
    CLIENT.MULTI_RESULTS |
    CLIENT.PLUGIN_AUTH |
    CLIENT.CONNECT_ATTRS |
    CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA |
    (offerTls ? CLIENT.SSL : 0);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(connectionId, 0);
  const middle = Buffer.alloc(1 + 2 + 1 + 2 + 2 + 1 + 10);
  let offset = 1; // filler 0
  middle.writeUInt16LE(capabilities & 0xffff, offset);
  offset += 2;
  middle[offset++] = UTF8MB4_GENERAL_CI;
  middle.writeUInt16LE(SERVER_STATUS_AUTOCOMMIT, offset);
  offset += 2;
  middle.writeUInt16LE(capabilities >>> 16, offset);
  offset += 2;
  middle[offset] = scramble.length + 1;
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from('8.0.36-fake-rds\0'),
    head,
    scramble.subarray(0, 8),
    middle,
    scramble.subarray(8),
    Buffer.from([0]),
    Buffer.from('mysql_native_password\0'),
  ]);
}

function parseHandshakeResponse(payload: Buffer, flags: number): { user: string; database: string } {
  let offset = 32;
  const readNulString = () => {
    const end = payload.indexOf(0, offset);
    const value = payload.subarray(offset, end).toString('utf8');
    offset = end + 1;
    return value;
  };
  const user = readNulString();
  if ((flags & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA) !== 0) {
    const length = payload[offset] ?? 0; // short auth data: one-byte length-encoded integer
    offset += 1 + length;
  } else {
    offset += 1 + (payload[offset] ?? 0);
  }
  const database = (flags & CLIENT.CONNECT_WITH_DB) !== 0 ? readNulString() : '';
  return { user, database };
}

function lenencString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no port'));
      else resolve(address.port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
