// The few Node declarations that index.d.ts and usage.ts use, for `tsc` without @types/node
// (which Debian does not package and npm's registry cannot be reached for). Test-only: users
// have @types/node, whose declarations these are a small, compatible subset of.

declare module 'node:events' {
  export class EventEmitter {
    on(event: string | symbol, listener: (...args: any[]) => void): this;
    once(event: string | symbol, listener: (...args: any[]) => void): this;
    off(event: string | symbol, listener: (...args: any[]) => void): this;
    emit(event: string | symbol, ...args: any[]): boolean;
  }
}

declare module 'node:http' {
  export interface IncomingHttpHeaders {
    [header: string]: string | string[] | undefined;
  }
  export class IncomingMessage {
    method?: string;
    url?: string;
    headers: IncomingHttpHeaders;
  }
  export class ServerResponse {
    statusCode: number;
    end(chunk?: string): this;
  }
  export interface Server {
    listen(port: number, host: string, callback?: () => void): this;
    close(callback?: (err?: Error) => void): this;
  }
  export function createServer(listener: (req: IncomingMessage, res: ServerResponse) => void): Server;
}

declare const process: { env: { [name: string]: string | undefined } };
