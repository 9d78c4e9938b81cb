/** What the runner tells a person: one concise line per notable step, on stderr. */
export interface Reporter {
  info(message: string): void;
  verbose(message: string): void;
  error(message: string): void;
}

export function reporter(opts: { quiet?: boolean; verbose?: boolean } = {}, write = (line: string) => process.stderr.write(line)): Reporter {
  return {
    info: (m) => void (opts.quiet || write(`runrelay: ${m}\n`)),
    verbose: (m) => void (opts.verbose && write(`runrelay: ${m}\n`)),
    error: (m) => void write(`runrelay: error: ${m}\n`),
  };
}

export const silent: Reporter = { info() {}, verbose() {}, error() {} };
