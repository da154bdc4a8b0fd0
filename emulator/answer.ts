/** What the emulator answers a request with, before it is written to the socket. */
export interface Answer {
  status: number;
  body?: unknown;
  text?: string;
  headers?: Record<string, string>;
}
