/** The runner CLI's help texts (runner/cli.ts): one option a line, an example per command. */
const common = `Relay options (a flag, or the environment variable on the right):
  --url URL            the relay, e.g. http://localhost:8787                RUNRELAY_URL
  --run ID             the run id (1-128 of A-Z a-z 0-9 . _ -)              RUNRELAY_RUN_ID
  --token TOKEN        a runner token for the run                           RUNRELAY_TOKEN
  --token-file PATH    read the token from a file, again whenever it expired  RUNRELAY_TOKEN_FILE
  --token-command CMD  run CMD (sh -c) for a token, again whenever it expired RUNRELAY_TOKEN_COMMAND
  --spool-dir DIR      keep each batch here until the relay has it (default .runrelay)  RUNRELAY_SPOOL_DIR
  --no-spool           keep batches in memory only
  --idle-timeout S     after a turn, wait S seconds for another message (default 0)
  --retry-max S        longest wait between retries; retries never give up (default 10)
  -q, --quiet          only errors
  -v, --verbose        a line per batch
  -h, --help           this help

A runner token under npm run dev: curl -s "$RUNRELAY_URL/api/v1/dev/token?run=$RUNRELAY_RUN_ID&scope=runner"
In production: runrelay token --run ID --scope runner (with RELAY_SECRET).`;

const sdk = `runrelay sdk --prompt TEXT [options]

Runs the Claude Agent SDK's query() in streaming-input mode and relays every message it yields.
Messages participants send become new user turns; an interrupt calls query.interrupt().
A tool that needs permission asks the participants (a can_use_tool control_request in the log)
and waits for the first answer.
Needs the Agent SDK (npm install @anthropic-ai/claude-agent-sdk) and Claude credentials:
ANTHROPIC_API_KEY in the environment, or a Claude Code that is logged in.

Example:
  runrelay sdk --url http://localhost:8787 --run run-42 --token "$TOKEN" \\
    --prompt "Fix the failing test" --cwd /work/run-42 --allowed-tools Bash,Read,Edit

  -p, --prompt TEXT            the first user message
  --prompt-file PATH           the first user message, from a file
  --cwd DIR                    the agent's working directory
  --model MODEL                the model
  --permission-mode MODE       default, acceptEdits, plan, bypassPermissions, …
  --allowed-tools A,B          tools the agent may use without asking, e.g. Bash,Read
  --no-partial                 do not relay partial messages (by default the SDK's includePartialMessages
                               is on: text as it is typed reaches viewers as live deltas, never stored)
  --resume SESSION_ID          continue an earlier session
  --claude-path PATH           the Claude Code executable (default: the SDK's own)
  --bare                       Claude Code's minimal mode (no hooks, plugins or CLAUDE.md discovery)
  --permission-timeout S       deny a permission prompt no one answered within S seconds (default: wait)`;

const exec = `runrelay exec [--prompt TEXT] -- COMMAND [ARGS…]

Spawns a command that prints stream-json on stdout and relays each line (a line that is not
a JSON object is relayed as {"type":"runrelay_diagnostic","subtype":"non_json_output","text":…}).
Messages are written to its stdin as stream-json user lines. A restarted runner resumes a
claude command's session (--resume ID) instead of sending the prompt again. A claude command gets
--permission-prompt-tool stdio (unless given): a tool that needs permission asks the participants.

Example (Claude Code, which needs ANTHROPIC_API_KEY or a logged-in claude):
  runrelay exec --url http://localhost:8787 --run run-42 --token "$TOKEN" --prompt "Fix the failing test" -- \\
    claude -p --output-format stream-json --input-format stream-json --verbose

  -p, --prompt TEXT          the first user message, written to stdin at start
  --cwd DIR                  the command's working directory
  --exit-grace S             once its input is closed, seconds the command has to exit before SIGTERM (default 10)
  --interrupt signal|control how a stop reaches the command: control writes Claude Code's interrupt
                             request to its stdin (the turn stops, the session goes on), signal sends
                             SIGINT (default: control for a command named claude, else signal)
  --no-partial               do not add --include-partial-messages to a claude command (by default it is
                             added: text as it is typed reaches viewers as live deltas, never stored)
  --permission-timeout S     deny a permission prompt no one answered within S seconds (default: wait)`;

const tail = `runrelay tail --file PATH [--inbox PATH] [--from-offset BYTES]

Follows a stream-json file an existing workflow writes (_stream.jsonl), from the start, through
truncation and late creation. Messages and interrupts are appended to the inbox file.

Example:
  runrelay tail --url http://localhost:8787 --run run-42 --token "$TOKEN" --file /work/run-42/_stream.jsonl

  -f, --file PATH        the file to follow
  --inbox PATH           where inputs go (default: _messages.jsonl next to the file)
  --from-offset BYTES    start at this byte offset instead of the start`;

const token = `runrelay token --run ID --scope runner|read|write|admin [--ttl SECONDS] [--secret SECRET]

Prints a token for a run, signed locally with the relay's secret.
A backend gives the runner a runner token and each viewer a read or write token.

Example:
  RELAY_SECRET=… runrelay token --run run-42 --scope runner --ttl 900

  --run ID          the run id; '*' (with --scope admin) for every run   RUNRELAY_RUN_ID
  --scope SCOPE     runner, read, write or admin
  --ttl SECONDS     how long it is valid (default 3600)
  --secret SECRET   the relay's secret                                   RELAY_SECRET
  -h, --help        this help`;

const usage = `runrelay: relay a Claude agent run live, and carry messages back to it.

Usage:
  runrelay sdk  --prompt TEXT [options]      run the Claude Agent SDK (needs ANTHROPIC_API_KEY
                                             or a logged-in Claude Code)
  runrelay exec [options] -- COMMAND…        run any command that prints stream-json
  runrelay tail --file PATH [options]        follow a file a workflow writes
  runrelay token --run ID --scope SCOPE      sign a token for a run (with RELAY_SECRET)
  runrelay COMMAND --help                    a command's options, with an example

In a clone of the runrelay repository: npm run runner -- COMMAND …

Exit codes: 0 completed, 1 failed / interrupted / error / another runner took over,
2 bad usage or the spool in use by another runner, 130 stopped by a signal.

${common}`;

export const HELP = { common, sdk, exec, tail, token, usage } as const;
