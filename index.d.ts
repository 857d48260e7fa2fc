// Type declarations for clusterluck-native: a NetKernel for clusterluck whose
// network runs in Rust, with the JS kernel's API, events and wire protocol.

/// <reference types="node" />

import { EventEmitter } from "events";
import * as stream from "stream";

// ---------------------------------------------------------------------------
// Shared shapes
// ---------------------------------------------------------------------------

/** Anything that names a cluster member: a {@link Node} or an object with the same three getters. */
export interface NodeLike {
  /** The node's unique id. */
  id(): string;
  /** The host (name or IP address) the node listens on. */
  host(): string;
  /** The TCP port the node listens on. */
  port(): number;
}

/** A node as plain data: what {@link Node.toJSON} gives and {@link Node.from} takes. */
export interface NodeJSON {
  id: string;
  host: string;
  port: number;
}

/**
 * An Error flattened for the wire (clusterluck's `errorToObject`): `stack`
 * (left out when NODE_ENV=production), `message`, the error's own enumerable
 * properties, and `_error: true`. Stream errors from another node (and from a
 * local stream) arrive in this form, not as `Error` instances.
 */
export interface FlattenedError {
  message: string;
  stack?: string;
  _error: true;
  [key: string]: unknown;
}

/** An error given to a kernel callback: an `Error`, or a {@link FlattenedError} sent by the replier. */
export type KernelError = Error | FlattenedError;

/**
 * What the `_skip` event carries: an inbound message that was dropped.
 * `type` says why:
 * - `INVALID_CHECKSUM`: the HMAC did not match our cookie (or was missing);
 *   `message` is "Checksum failure.", with `sent` and `calculated`.
 * - `INVALID_JSON`: the frame was not JSON; `offset` is where parsing failed.
 * - `INVALID_MESSAGE`: valid JSON, but not a message the kernel can route.
 * - `FRAME_TOO_LARGE`: more than `maxFrameLength` bytes arrived without a
 *   delimiter and were discarded; `limit` is that length.
 * - `TLS_HANDSHAKE`: a client failed the TLS handshake (untrusted, expired or
 *   missing certificate, not speaking TLS); its socket was closed.
 * - `INBOUND_BUDGET`: the partial frames of all inbound connections together
 *   went over `maxInboundBytes`; the connection whose read took them over was
 *   closed; `limit` is the budget.
 * - `INVALID_REPLY`: a reply to one of our calls came from another node than
 *   the one called ("Synchronous response node mismatch."), with `actual`
 *   and `expected` node ids.
 */
export type SkipError = Error & {
  type:
    | "INVALID_CHECKSUM"
    | "INVALID_JSON"
    | "INVALID_MESSAGE"
    | "FRAME_TOO_LARGE"
    | "TLS_HANDSHAKE"
    | "INBOUND_BUDGET"
    | "INVALID_REPLY"
    | (string & {});
  /** INVALID_CHECKSUM: the checksum the sender put in the message, if any. */
  sent?: string;
  /** INVALID_CHECKSUM: the checksum computed with our cookie. */
  calculated?: string;
  /** INVALID_JSON: byte offset of the parse failure. */
  offset?: number;
  /** FRAME_TOO_LARGE: the frame length limit in bytes. */
  limit?: number;
  /** INVALID_REPLY: id of the node that replied. */
  actual?: string;
  /** INVALID_REPLY: id of the node that was called. */
  expected?: string;
  [key: string]: unknown;
};

/**
 * Data a message can carry. JSON values travel as JSON; a Buffer arrives as a
 * Buffer; a Readable is streamed chunk by chunk (each chunk is one message,
 * then a final `done` message), and a stream error travels to the receiver as
 * `stream.error`.
 */
export type MessageData =
  | Buffer
  | string
  | number
  | boolean
  | object
  | any[]
  | null
  | stream.Readable;

/**
 * The stream state of a received message. A single message is `{done: true}`;
 * a streamed one has `stream` (a 48-character hex id) on each chunk
 * (`done: false`) and on the final message (`done: true`, data `null`), which
 * carries `error` if the sender's stream failed.
 */
export interface StreamInfo {
  done: boolean;
  stream?: string;
  error?: FlattenedError | object;
}

/**
 * An inbound connection from another node (an entry of
 * {@link NetKernel.sources}, and `from.socket` of messages that came in on it).
 */
export interface Socket {
  /** Id of the connection, the key in {@link NetKernel.sources}. */
  readonly id: number;
  /** Address of the remote end. */
  readonly remoteAddress: string;
  /** Port of the remote end. */
  readonly remotePort: number;
  /**
   * Writes a frame `{type: event, data}` back on this socket, as node-ipc's
   * `server.emit(socket, event, data)` does. Returns false when the socket is closed.
   */
  write(event: string, data: unknown): boolean;
}

/** Who sent a message: the sender node, the reply tag (null for a cast) and the inbound socket. */
export interface From {
  /**
   * The reply tag of a call (pass `from` to {@link NetKernel.reply}), or null when no reply is expected.
   * A sender that is not a kernel may tag a message with another truthy value (a number, an object):
   * it is handed over as the JS kernel hands it over, and cannot be replied to.
   */
  tag: string | null;
  /** The inbound connection the message came in on; absent for messages a kernel sent to itself. */
  socket?: Socket;
  /**
   * The sending node, as its `from` member names it: a sender that names only its id (clusterluck's
   * CLI) has `host()` and `port()` undefined, as with the JS kernel.
   */
  node: Node;
}

/** What {@link NetKernel.reply} needs: the tag and the node to answer. */
export interface ReplyTo {
  tag: string | null;
  node: NodeLike;
}

/** A handler of kernel messages: `kernel.on(event, (data, stream, from) => ...)`. */
export type MessageHandler<D = any> = (data: D, stream: StreamInfo, from: From) => void;

/** A node-style callback. */
export type Callback<T> = (err: KernelError | null, result?: T) => void;

/** The server object `ipc().server` holds once the kernel is started (the part of node-ipc's server clusterluck uses). */
export interface IpcServer extends EventEmitter {
  /** Writes a frame on an inbound socket; returns false when it is closed. */
  emit(socket: Socket, event: string, data: unknown): boolean;
  emit(eventName: string | symbol, ...args: any[]): boolean;
}

/** Connection settings read from `ipc.config` (node-ipc's config, as clusterluck sets it). */
export interface IpcConfig {
  id?: string;
  networkHost?: string;
  networkPort?: number;
  /** Milliseconds between reconnect attempts of outbound connections. */
  retry?: number;
  /** Reconnect attempts before an outbound connection gives up (Infinity: never). */
  maxRetries?: number;
  /** TLS settings (node-ipc's `tls` object), or null for plain TCP. */
  tls?: TlsOptions | null;
  silent?: boolean;
  [key: string]: unknown;
}

/** The `ipc` object a kernel is built with: its `config`, and `server` once started. */
export interface Ipc {
  config: IpcConfig;
  server?: IpcServer | null;
  [key: string]: unknown;
}

/** The ipc object {@link createKernel} builds (no node-ipc involved). */
export interface KernelIpc extends Ipc {
  config: IpcConfig & {
    id: string;
    networkHost: string;
    networkPort: number;
    retry: number;
    maxRetries: number;
    tls: TlsOptions | null;
    silent: boolean;
  };
  server: IpcServer | null;
}

/**
 * node-ipc's TLS settings (file paths). Options without a counterpart in the
 * native TLS stack (`dhparam` and other Node tls options) are ignored.
 */
export interface TlsOptions {
  /** Path of this node's private key (PEM). */
  private?: string;
  /** Path of this node's certificate (PEM). */
  public?: string;
  /** Kept for node-ipc compatibility; ignored. */
  dhparam?: string;
  /** Path(s) of the certificates (PEM) to trust. */
  trustedConnections?: string | string[];
  /** Whether to refuse peers whose certificate cannot be verified. */
  rejectUnauthorized?: boolean;
  /** Whether the server asks connecting nodes for a certificate. */
  requestCert?: boolean;
  [key: string]: unknown;
}

/** Options of {@link NetKernel.start}. */
export interface StartOptions {
  /** Milliseconds between reconnect attempts (default: `ipc.config.retry`). */
  retry?: number;
  /** Reconnect attempts before giving up (default: `ipc.config.maxRetries`). */
  maxRetries?: number;
  /** Cluster cookie: outgoing messages are signed with it (HMAC-SHA256) and inbound messages checked. Null/absent: no signing. */
  cookie?: string | null;
  /** TLS settings (default: `ipc.config.tls`). */
  tls?: TlsOptions | null;
  /** Milliseconds between renewals of the reply-tag base (default one hour). */
  tokenGenInterval?: number;
  /** Largest inbound frame in bytes; longer frames are dropped with a FRAME_TOO_LARGE `_skip`. */
  maxFrameLength?: number;
  /**
   * net_ticktime in milliseconds (default 60000; 0 turns it off): a node that
   * holds a link to us, from which nothing arrives for this long and whose
   * system offers to take nothing more of a backlog we had for it meanwhile
   * (its process does not read), is declared down (`nodedown` with "tick timeout"); quiet links are pinged after a
   * quarter of it, and pings go out ahead of any backlog. Applies to links
   * opened after.
   */
  netTickTime?: number;
  /** Default of {@link ConnectOptions.maxQueueBytes} for links opened after (64 MiB). */
  maxQueueBytes?: number;
  /** Default of {@link ConnectOptions.highWaterMark} for links opened after (16 MiB). */
  highWaterMark?: number;
  /**
   * Most bytes of partial frames all inbound connections may hold together
   * (default 256 MiB); a connection whose read takes them over is closed,
   * with an INBOUND_BUDGET `_skip`.
   */
  maxInboundBytes?: number;
}

/** Options of {@link NetKernel.connect}. */
export interface ConnectOptions {
  /** Most messages held while the link is down; past it the oldest are dropped (default 1024). */
  maxLen?: number;
  /**
   * Most bytes of messages not yet written (held while the link is down, or
   * waiting on a peer that does not read); past it the oldest are dropped,
   * counted in `stats()` and reported by an `overflow` event once per episode
   * (default: the start() option, else 64 MiB).
   */
  maxQueueBytes?: number;
  /** Unwritten bytes at which the connection emits `busy`; `drain` at half of it (default: the start() option, else 16 MiB). */
  highWaterMark?: number;
}

/** One node's health in {@link NetKernel.stats}. */
export interface PeerStats {
  /**
   * Our outbound link to it: "up" (the node showed that it runs), "down" (declared down for
   * its silence; the link is kept and what it carries arrives once the node runs again),
   * "connecting" (no link yet, or a link to a node that has not shown that it runs), "closed",
   * or null if we have none.
   */
  state: "up" | "down" | "connecting" | "closed" | null;
  /** Messages (frames, pings included) and bytes written on our link to it. */
  sent: { messages: number; bytes: number };
  /** Messages (frames) and bytes read from its links to us. */
  received: { messages: number; bytes: number };
  /** Messages held while our link to it is down. */
  queued: number;
  /** Bytes handed to our link and not yet written. */
  unwritten: number;
  /** Messages dropped unwritten (`maxLen` or `maxQueueBytes`). */
  dropped: number;
  /** Frames from it skipped, by `_skip` type. */
  skips: Record<string, number>;
  /** Its links to us open now. */
  inbound: number;
  /** When anything last arrived from it (ms since the epoch), or null. */
  lastHeard: number | null;
  /** Round trip of the last keep-alive ping it answered, in ms, or null. */
  rtt: number | null;
  /**
   * Ms since its last sign of life (anything from it, or its system's offering to take
   * more of a backlog we had for it) while it is up or down; null otherwise.
   */
  quiet: number | null;
  /** Keep-alive pings written on our link to it. */
  pings: number;
  /** Pings that went a quarter of the tick time with nothing heard or acknowledged since. */
  ticksMissed: number;
  /**
   * Silences of a whole tick time during which its system kept taking what we wrote, as its
   * process read it: a node busy reading, not declared down (a nodedown avoided).
   */
  ackSaves: number;
  /** `nodedown`s of it so far, by reason. */
  nodedowns: { "tick timeout": number; closed: number; stopped: number };
}

/** What {@link NetKernel.stats} returns. */
export interface KernelStats {
  /** By node id. */
  peers: Record<string, PeerStats>;
  /** Sums over all nodes (skips include links that never said which node they carry). */
  totals: Pick<PeerStats, "sent" | "received" | "queued" | "unwritten" | "dropped" | "skips">;
}

/** Options of {@link createKernel} (clusterluck's kernel options). */
export interface CreateKernelOptions {
  /** Host used when `host` is not given. */
  networkHost?: string;
  /** Port used when `port` is not given (or is 0). */
  networkPort?: number;
  /** Milliseconds between reconnect attempts (default 5000). */
  retry?: number;
  /** Reconnect attempts before giving up (default Infinity). */
  maxRetries?: number;
  /** TLS settings, or null for plain TCP (default null). */
  tls?: TlsOptions | null;
  /** Kept for clusterluck compatibility (default true). */
  silent?: boolean;
}

/** A Buffer in its JSON form, as it travels on the wire. */
export interface BufferJSON {
  type: "Buffer";
  data: number[];
}

// ---------------------------------------------------------------------------
// Node
// ---------------------------------------------------------------------------

/** A cluster member's address: id, host and port. */
export declare class Node implements NodeLike {
  constructor(id: string, host: string, port: number);
  /** Gets the id; sets it first when given a string (other types are ignored). */
  id(id?: string): string;
  /** Gets the host; sets it first when given a string (other types are ignored). */
  host(host?: string): string;
  /** Gets the port; sets it first when given a number (other types are ignored). */
  port(port?: number): number;
  /** True when `node` has the same id, host and port. */
  equals(node: NodeLike): boolean;
  /** The node as a fresh plain object `{id, host, port}` (`fast` is accepted for compatibility). */
  toJSON(fast?: boolean): NodeJSON;
  /** Builds a Node from `{id, host, port}`. */
  static from(data: NodeJSON): Node;
}

// ---------------------------------------------------------------------------
// Connection
// ---------------------------------------------------------------------------

/** The queue of messages held while a connection is down. */
export interface ConnectionQueue {
  /** Number of messages waiting for the link. */
  size(): number;
}

/**
 * An outbound connection to one node (an entry of {@link NetKernel.sinks}),
 * made by {@link NetKernel.connect}. It reconnects every `retry` ms while the
 * link is down and holds up to `maxLen` messages meanwhile.
 *
 * Events: `connect` (link up, also after a reconnect), `disconnect` (link
 * lost), `idle` (no open outgoing stream and nothing queued), `send`
 * (`(event, data)`, each frame handed to the link), `error` (the link cannot
 * come up, e.g. a failed TLS handshake or retries exhausted; reported once per
 * distinct failure; without a listener it goes to the kernel's `error`
 * listeners, else becomes a process warning).
 */
export declare class Connection extends EventEmitter {
  /**
   * Made by {@link NetKernel.connect}; `kernel` is the owning kernel. A
   * Connection built without one can be inspected but {@link start} throws.
   */
  constructor(ipc: Ipc | null, node: NodeLike, opts?: ConnectOptions, kernel?: NetKernel<any>);
  /**
   * Opens the link. Throws "A Connection must be started through
   * NetKernel#connect." when built without a kernel.
   */
  start(): this;
  /**
   * Closes the link. Unless `force`, waits first for open streams and queued
   * messages to drain (`idle`) and for a pending connect; with `force`,
   * closes at once and drops what is queued.
   */
  stop(force?: boolean): this;
  /** The node this connection goes to. */
  node(): NodeLike;
  /** The queue of messages held while the link is down. */
  queue(): ConnectionQueue;
  /** False once stopped (sends then fail with "Cannot write to inactive connection."). */
  active(): boolean;
  /** True while the link is being (re)established. */
  connecting(): boolean;
  /** True when no outgoing stream is open and nothing is queued. */
  idle(): boolean;
  /** Gets the queue limit; sets it first when given a number >= 0. */
  maxLen(len?: number): number;
  /**
   * Sends a frame `{type: event, data}` with JSON data on this link, as
   * node-ipc's `emit` does (not signed: no cookie is applied). Returns an
   * Error "Cannot write to inactive connection." once stopped.
   */
  send(event: string, data: unknown): this | Error;
  /** Marks a stream as open on this connection, so the connection is not idle until it ends. */
  initiateStream(stream: { stream: string; done?: boolean }): this;
  /** Copies an options object without its undefined members. */
  static stripUndefined<T extends object>(opts: T | null | undefined): Partial<T>;

  on(event: "connect" | "disconnect" | "idle", listener: () => void): this;
  /** `busy`: unwritten bytes crossed `highWaterMark`; `drain`: back to half of it. */
  on(event: "busy" | "drain", listener: () => void): this;
  /** The oldest unwritten messages are being dropped, over the limit named (once per episode). */
  on(event: "overflow", listener: (limit: "maxLen" | "maxQueueBytes") => void): this;
  on(event: "send", listener: (event: string, data: any) => void): this;
  on(event: "error", listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: "connect" | "disconnect" | "idle", listener: () => void): this;
  once(event: "send", listener: (event: string, data: any) => void): this;
  once(event: "error", listener: (err: Error) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

// ---------------------------------------------------------------------------
// NetKernel
// ---------------------------------------------------------------------------

/**
 * clusterluck's message router. On {@link start} it listens on host:port for
 * other nodes; {@link connect} opens outbound links ("sinks") to them. Inbound
 * messages are emitted as `kernel.emit(event, data, stream, from)`; messages to
 * the kernel's own node are delivered locally without the network.
 *
 * Replies go back over the replier's own outbound connection, so for calls
 * and pings both nodes must be connected to each other.
 *
 * Events: `_ready` (listening), `_stop` (stopped), `_skip` (an inbound
 * message was dropped, see {@link SkipError}), `error` (the listen failed,
 * or an outbound connection that has no `error` listener of its own cannot
 * come up; without a listener it becomes a process warning), and one event
 * per message event name, or reply tag.
 *
 * @typeParam TIpc the type of the ipc object the kernel was built with.
 */
/** The `error` of a kernel whose listening socket could not be opened. */
export interface ListenError extends Error {
  /** As Node's: EADDRINUSE, EACCES, EADDRNOTAVAIL, ... */
  code: string;
  errno?: number;
  syscall: "listen";
  address: string;
  port: number;
}

export declare class NetKernel<TIpc extends Ipc | null = Ipc | null> extends EventEmitter {
  /**
   * @param ipc node-ipc-like object whose `config` holds retry, maxRetries and
   *   tls (may be null: defaults are used); it gets `server` on start.
   * @param id this node's unique id.
   * @param host host or IP address to listen on.
   * @param port TCP port to listen on.
   */
  constructor(ipc: TIpc, id: string, host: string, port: number);

  /** Inbound connection class: the type of `from.socket` and of the values of {@link sources}. */
  static readonly Socket: abstract new (...args: never[]) => Socket;

  /**
   * Starts listening on host:port (`_ready` follows; a failed listen emits
   * `error`, or a warning when nothing listens for it), and sets the cookie
   * (none unless `opts.cookie`), retry settings, TLS and frame limit.
   */
  start(opts?: StartOptions): this;
  /** Stops listening and drops inbound connections (outbound ones stay); emits `_stop`. */
  stop(): this;
  /** Gets the ipc object; sets it first when given one. */
  ipc(ipc?: TIpc): TIpc;
  /** Gets this node's id; sets it first when given a string. */
  id(id?: string): string;
  /** Gets the listening host; sets it first when given a string. */
  host(host?: string): string;
  /** Gets the listening port; sets it first when given a number. */
  port(port?: number): number;
  /** Gets the node for this kernel; given one, takes its id, host and port. */
  self(node?: Node): Node;
  /** Gets the inbound connections by socket id; replaces the map first when given one. */
  sources(sources?: Map<number, Socket>): Map<number, Socket>;
  /** Gets the outbound connections by node id; replaces the map first when given one. */
  sinks(sinks?: Map<string, Connection>): Map<string, Connection>;
  /** Gets the cookie (null: none); sets it first when given a string, effective at once. */
  cookie(cookie?: string): string | null;

  /**
   * Opens an outbound connection to `node` (reconnecting while it is down).
   * With `cb`, calls it once connected, or at once when `node` is this
   * kernel's own or already connected. Throws a TypeError for a node without
   * id(), host() and port().
   */
  connect(node: NodeLike, cb: () => void, opts?: ConnectOptions): void;
  connect(node: NodeLike, cb?: null, opts?: ConnectOptions): this;
  /**
   * Closes the connection to `node` and forgets it. Unless `force`, the link
   * closes only after open streams and queued messages have been sent.
   */
  disconnect(node: NodeLike, force?: boolean): this;
  /** Health of every link (messages, bytes, queues, drops, skips, last heard, ping round trip) and totals. */
  stats(): KernelStats;
  /** True when `node` is this kernel's own or has an outbound connection (even one that is down). */
  isConnected(node: NodeLike): boolean;
  /** The outbound connection to `node`, or null (also for this kernel's own node). */
  connection(node: NodeLike): Connection | null;

  /**
   * Pings `node`; `cb(null, "pong")` on an answer (at once for our own node).
   * Errors: "Unknown node X" (not connected), "Timeout." (no answer in
   * `timeout` ms; default: wait forever), "Cannot write to inactive connection.".
   */
  ping(node: NodeLike, cb: Callback<string>, timeout?: number): void;

  /**
   * Sends `data` (a stream is sent chunk by chunk) as event `event` and
   * returns the reply as an object-mode Readable, which ends with the reply.
   * With `cb`, the reply is also collected: `cb(null, data)` with the Buffers
   * concatenated (or the single JSON value replied); `undefined` for an
   * empty reply. Errors (on the stream, or to `cb`): "Unknown node X",
   * "Timeout.", "Buffer limit exceeded." (`cb` only: a reply over 10 MB), and
   * the replier's stream error as a {@link FlattenedError}.
   */
  call<T = Buffer>(node: NodeLike, event: string, data: MessageData, cb?: Callback<T> | null, timeout?: number): stream.Readable;
  /**
   * Sends `data` as event `event` and calls `cb` with the first reply message
   * (a single value; for a streamed reply only its first chunk). Errors:
   * "Unknown node X", "Timeout.", an INVALID_REPLY error (reply from another
   * node), or the replier's stream error.
   */
  callSingleton<T = any>(node: NodeLike, event: string, data: MessageData, cb: Callback<T>, timeout?: number): void;
  /**
   * {@link call} on each node. Without `cb`, returns the reply streams in the
   * order of `nodes`; with `cb`, collects them and calls back once with the
   * results in order, or with the first error (and the results so far).
   */
  multicall(nodes: NodeLike[], event: string, data: MessageData, cb?: null, timeout?: number): stream.Readable[];
  multicall<T = Buffer>(nodes: NodeLike[], event: string, data: MessageData,
    cb: (err: KernelError | null, results?: (T | undefined)[]) => void, timeout?: number): void;
  /**
   * {@link callSingleton} on each node; calls back once with the replies in
   * the order of `nodes`, or with the first error (and the results so far).
   */
  multicallSingleton<T = any>(nodes: NodeLike[], event: string, data: MessageData,
    cb: (err: KernelError | null, results?: (T | undefined)[]) => void, timeout?: number): void;
  /**
   * Answers a received call: sends `data` (a stream is sent chunk by chunk) to
   * `from.node` under the reply tag. Throws "Cannot reply to message with no
   * callback tag." when `from.tag` is not a string (the message was a cast).
   * The reply is dropped when there is no connection to `from.node`.
   */
  reply(from: From | ReplyTo, data: MessageData): this | undefined;
  /**
   * Sends `data` as event `event` to `node`, expecting no answer. Returns
   * undefined (and sends nothing) when `node` is not connected.
   */
  cast(node: NodeLike, event: string, data?: MessageData): this | undefined;
  /** {@link cast} to each node of `nodes` (unconnected ones are skipped). */
  abcast(nodes: NodeLike[], event: string, data?: MessageData): this;

  /** Listening has started. */
  on(event: "_ready", listener: () => void): this;
  /** The kernel was stopped. */
  on(event: "_stop", listener: () => void): this;
  /**
   * `node` showed that it runs, on our link to it: something came from it since the link came
   * up or since its `nodedown` (a connection alone is not that: a stopped process's system
   * accepts one). A node that holds no link to us is up once it sends us something. With
   * `netTickTime: 0`, a node is up with its link. A message that is the node's first sign of
   * life comes on its own link to us and can be delivered a moment before this event.
   */
  on(event: "nodeup", listener: (node: Node) => void): this;
  /**
   * `node` is down: "tick timeout" (nothing came from it and it read nothing we wrote for the
   * tick time; the link is kept, and the node is up again with its first sign of
   * life), "closed" (the link ended; it reconnects with its queue) or "stopped" (disconnected).
   * Calls, callSingletons and pings waiting on it have failed with an Error whose `type` is
   * `NODE_DOWN`; until the next `nodeup`, those made with no timeout fail at once the same way,
   * and those with a timeout are sent and wait for the node up to it.
   */
  on(event: "nodedown", listener: (node: Node, reason: string) => void): this;
  /** An inbound message was dropped (INVALID_CHECKSUM, INVALID_JSON, INVALID_MESSAGE, FRAME_TOO_LARGE, INVALID_REPLY). */
  on(event: "_skip", listener: (err: SkipError) => void): this;
  /**
   * The listening socket could not be opened: an Error shaped as a Node
   * server's (`listen EADDRINUSE: address already in use 127.0.0.1:7022`,
   * with `code`, `errno`, `syscall` "listen", `address` and `port`). With no
   * `error` listener it is thrown, as from a Node server, and ends the
   * process. Also a connection that could not come up (TLS handshake
   * failed, retries exhausted) and has no `error` listener of its own.
   */
  on(event: "error", listener: (err: ListenError | (Error & { code?: string })) => void): this;
  /** A message of event `event`: data, stream state, and sender. */
  on<D = any>(event: string, listener: MessageHandler<D>): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: "_ready", listener: () => void): this;
  once(event: "_stop", listener: () => void): this;
  once(event: "_skip", listener: (err: SkipError) => void): this;
  once(event: "error", listener: (err: ListenError | (Error & { code?: string })) => void): this;
  once<D = any>(event: string, listener: MessageHandler<D>): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;

  // ---- static helpers other clusterluck modules call ----

  /** Signs a message: `{checkSum, ...data}` with an HMAC-SHA256 of its JSON; `data` unchanged when `key` is null. */
  static _encodeMsg<T extends object>(key: string | null, data: T): T & { checkSum?: string };
  /**
   * Checks and strips `checkSum`; returns the message without it, or an
   * INVALID_CHECKSUM Error ("Checksum failure.", with `sent` and
   * `calculated`). `data` unchanged when `key` is null.
   */
  static _decodeMsg<T extends object>(key: string | null, data: T): Omit<T, "checkSum"> | SkipError;
  /** HMAC-SHA256 of `data` with `key`, as lower-case hex. */
  static _hmacData(key: string | Buffer, data: string | Buffer): string;
  /** A Buffer in its JSON form `{type: "Buffer", data: [...]}`; other values unchanged. */
  static _encodeBuffer(buf: Buffer): BufferJSON;
  static _encodeBuffer<T>(buf: T): T;
  /** A Buffer from its JSON form `{type: "Buffer", data: [...]}`; other values unchanged. */
  static _decodeBuffer(data: BufferJSON): Buffer;
  static _decodeBuffer<T>(data: T): T | Buffer;
  /**
   * A stream of `data`: a stream as it is, a Buffer or string as a one-chunk
   * stream. Throws "Input data could not be coerced into a stream." otherwise.
   */
  static _coerceStream<S extends stream.Stream>(data: S): S;
  static _coerceStream(data: Buffer | string): stream.PassThrough;
  /**
   * Collects a stream: `cb(null, data)` with Buffer chunks concatenated, or
   * `cb(err)` on the stream's error, or "Buffer limit exceeded." past `limit`
   * bytes (default 10,000,000).
   */
  static _collectStream<T = Buffer>(rstream: stream.Readable, cb: Callback<T>, limit?: number): void;
  /**
   * An error flattened for the wire (`{stack, message, ...props, _error: true}`);
   * marks `error` itself with `_error`; null stays null, non-Errors are returned as they are.
   */
  static _encodeError(error: null): null;
  static _encodeError(error: Error): FlattenedError;
  static _encodeError<T>(error: T): T;
}

// ---------------------------------------------------------------------------
// Module functions and constants
// ---------------------------------------------------------------------------

/**
 * Builds a NetKernel the way clusterluck's `createKernel` does, without
 * node-ipc: the ipc object carries the config (retry default 5000,
 * maxRetries Infinity, tls null). Start it with {@link NetKernel.start}.
 * @param id this node's unique id.
 * @param host host to listen on (default: `os.hostname()`).
 * @param port port to listen on (default 7022).
 */
export declare function createKernel(id: string, host?: string, port?: number, opts?: CreateKernelOptions): NetKernel<KernelIpc>;

/** Defaults shared with clusterluck. */
export declare const consts: {
  /** Default Connection options: `{maxLen: 1024}`. */
  readonly connDefaults: Readonly<Required<ConnectOptions>>;
  /** Defaults of {@link createKernel}'s options. */
  readonly kernelOpts: Readonly<Required<CreateKernelOptions>>;
  /** node-ipc's own defaults, used when a kernel has no ipc config. */
  readonly ipcDefaults: Readonly<{ retry: number; maxRetries: number; tls: TlsOptions | null }>;
  /** Default milliseconds between reply-tag base renewals (one hour). */
  readonly tokenGenInterval: number;
  /** Buffer limit (bytes) of `call(..., cb)`. */
  readonly collectLimit: number;
};

/**
 * Makes the copy of clusterluck whose exports are given build native kernels
 * (its `NetKernel`, `lib.kernel`, `createKernel`, `createCluster`): the
 * explicit form of `require("clusterluck-native/register")`. Returns its
 * argument. Throws an Error (code `CLUSTERLUCK_NATIVE_UNSUPPORTED`) naming the
 * package when its kernel is not one this package reproduces.
 */
export declare function useWith<T extends object>(clusterluck: T): T;
