// The tandem binary as the offline deployment checks use it (validate.mjs for Kubernetes,
// validate-compose.mjs for compose.yaml): run with exactly a given environment, and asked which
// options each command has.

import { spawnSync } from "node:child_process";

// The commands of the tandem image's entrypoint: a container whose arguments start with one of
// them runs tandem.
export const TANDEM_COMMANDS = new Set(["serve", "migrate", "rooms", "loadtest"]);

// `tool` names the check in the one line printed when the binary cannot run at all (exit 2).
export function tandemCli(binary, cwd, tool) {
  // tandem ARGS with `env` as its whole environment: { ok, output }, the output on one line.
  function run(args, env) {
    const result = spawnSync(binary, args, { env, cwd, encoding: "utf8", timeout: 30_000 });
    if (result.error) {
      console.error(`${tool}: cannot run ${binary}: ${result.error.message}`);
      process.exit(2);
    }
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().replaceAll("\n", " | ");
    return { ok: result.status === 0, output: output || `exit ${result.status}` };
  }

  // Options named in `tandem COMMAND --help` (CLI11 lists each as "  -c,--config TEXT ...").
  // `words`: the command and, for `tandem rooms purge` and the like, its subcommand.
  const helpOptions = new Map();
  function options(...words) {
    const key = words.join(" ");
    if (!helpOptions.has(key)) {
      helpOptions.set(key, new Set(run([...words, "--help"], {}).output.match(/--[a-z][a-z0-9-]*/g) ?? []));
    }
    return helpOptions.get(key);
  }

  // The --options among `args` that `tandem COMMAND --help` does not list. Only serve can check
  // its whole command line (--check-config); the other commands would act.
  // A first argument that is not an option names a subcommand: its options count too.
  function unknownOptions(command, args) {
    const sub = args.length > 0 && !args[0].startsWith("-") ? options(command, args[0]) : new Set();
    return args
      .filter((arg) => arg.startsWith("--"))
      .map((arg) => arg.split("=")[0])
      .filter((option) => !options(command).has(option) && !sub.has(option));
  }

  return { run, unknownOptions };
}
